/** GET /metrics: Prometheus text by route pattern, latency histogram, 429 counter and webhook outbox gauges. */
import { afterEach, describe, expect, test } from 'bun:test'
import { LATENCY_BUCKETS_SECONDS, UNMATCHED_ROUTE } from '../../src/plugins/metrics'
import { createHarness, type Harness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

let h: Harness
afterEach(() => h?.close())

async function scrape(): Promise<string> {
  const res = await h.request('GET', '/metrics')
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toStartWith('text/plain; version=0.0.4')
  return res.text()
}

/** The value of one series, found by its exact label set in exposition order. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const rendered = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')
  const prefix = rendered ? `${name}{${rendered}} ` : `${name} `
  const line = text.split('\n').find((l) => l.startsWith(prefix))
  return line === undefined ? undefined : Number(line.slice(prefix.length))
}

const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? -?[0-9.e+-]+$/
const FAMILIES = [
  'askad_http_requests_total',
  'askad_http_request_duration_seconds',
  'askad_rate_limited_requests_total',
  'askad_webhook_deliveries',
  'askad_webhook_queue_depth',
]

describe('GET /metrics', () => {
  test('is well-formed exposition text: every sample parses and belongs to a family with HELP and TYPE', async () => {
    h = createHarness()
    await h.request('GET', '/healthz')
    const text = await scrape()
    expect(text.endsWith('\n')).toBe(true)
    const typed = new Set<string>()
    for (const line of text.trimEnd().split('\n')) {
      const meta = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line)
      if (meta) {
        if (meta[1] === 'TYPE') typed.add(meta[2]!)
        continue
      }
      expect(line).toMatch(SAMPLE)
      const family = line.split(/[{ ]/)[0]!.replace(/_(bucket|sum|count)$/, '')
      expect(typed.has(family) || typed.has(line.split(/[{ ]/)[0]!)).toBe(true)
    }
    for (const family of FAMILIES) expect(typed).toContain(family)
  })

  test('counts requests by route pattern and status, never by raw path', async () => {
    h = createHarness()
    const ws = await h.workspace()
    expect((await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'a@example.com' } })).status).toBe(201)
    expect((await h.request('GET', '/api/v1/contacts/no-such-id', { key: ws.key })).status).toBe(404)
    expect((await h.request('GET', '/api/v1/contacts/another-id', { key: ws.key })).status).toBe(404)
    // Rejected before routing (auth runs first): still attributed to the route it was aimed at.
    expect((await h.request('GET', '/api/v1/contacts/third-id', { key: 'ask_sk_not_a_key' })).status).toBe(401)
    expect((await h.request('GET', '/wp-login.php?x=1')).status).toBe(404)

    const text = await scrape()
    expect(value(text, 'askad_http_requests_total', { method: 'POST', route: '/api/v1/leads/inbound', status: '201' })).toBe(1)
    expect(value(text, 'askad_http_requests_total', { method: 'GET', route: '/api/v1/contacts/:id', status: '404' })).toBe(2)
    expect(value(text, 'askad_http_requests_total', { method: 'GET', route: '/api/v1/contacts/:id', status: '401' })).toBe(1)
    expect(value(text, 'askad_http_requests_total', { method: 'GET', route: UNMATCHED_ROUTE, status: '404' })).toBe(1)
    expect(text).not.toContain('no-such-id')
    expect(text).not.toContain('wp-login')
  })

  test('latency histogram: cumulative buckets, +Inf equals count, sum of observed seconds', async () => {
    h = createHarness()
    for (let i = 0; i < 3; i++) await h.request('GET', '/healthz')
    const text = await scrape()
    const labels = { method: 'GET', route: '/healthz' }
    const buckets = LATENCY_BUCKETS_SECONDS.map((le) => value(text, 'askad_http_request_duration_seconds_bucket', { ...labels, le: String(le) })!)
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!).toBeGreaterThanOrEqual(buckets[i - 1]!)
    expect(value(text, 'askad_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(3)
    expect(value(text, 'askad_http_request_duration_seconds_count', labels)).toBe(3)
    expect(buckets.at(-1)).toBe(3)
    const sum = value(text, 'askad_http_request_duration_seconds_sum', labels)!
    expect(sum).toBeGreaterThan(0)
    expect(sum).toBeLessThan(3 * 10)
  })

  test('counts rate-limited (429) requests by route', async () => {
    h = createHarness({ env: { ASKAD_RATE_LIMIT: '2/60s' } })
    const ws = await h.workspace()
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) statuses.push((await h.request('GET', '/api/v1/contacts', { key: ws.key })).status)
    expect(statuses.filter((s) => s === 429).length).toBe(3)
    const text = await scrape()
    expect(value(text, 'askad_rate_limited_requests_total', { route: '/api/v1/contacts' })).toBe(3)
    expect(value(text, 'askad_http_requests_total', { method: 'GET', route: '/api/v1/contacts', status: '429' })).toBe(3)
  })

  test('webhook deliveries by outcome and the queue depth come from the outbox tables', async () => {
    // The endpoint points at a closed local port; nothing is sent (the harness's dispatcher never runs).
    h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
    const ws = await h.workspace()
    const now = h.clock.now()
    const hook = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: 'http://127.0.0.1:9/x', events: ['lead.created'] } })
    expect(hook.status).toBe(201)
    const endpointId = ((await hook.json()) as { id: string }).id
    const rows: [string, 'pending' | 'succeeded' | 'failed', number | null][] = [
      ['d1', 'pending', now - 30_000], // due for 30 s
      ['d2', 'pending', now - 1_000],
      ['d3', 'pending', now + 300_000], // waiting for a retry
      ['d4', 'succeeded', null],
      ['d5', 'succeeded', null],
      ['d6', 'failed', null],
    ]
    // One lead per row queues one delivery; each is then set to the state the row names.
    for (const [label] of rows) await h.pushLead(ws.key, { email: `${label}@example.com` })
    const deliveries = await h.rows.all('webhookDeliveries', { endpointId })
    expect(deliveries).toHaveLength(rows.length)
    for (const [i, [, status, nextAttemptAt]] of rows.entries())
      await h.rows.update('webhookDeliveries', { id: deliveries[i]!.id }, { status, nextAttemptAt, createdAt: now - 60_000, updatedAt: now })
    const text = await scrape()
    expect(value(text, 'askad_webhook_deliveries', { status: 'pending' })).toBe(3)
    expect(value(text, 'askad_webhook_deliveries', { status: 'succeeded' })).toBe(2)
    expect(value(text, 'askad_webhook_deliveries', { status: 'failed' })).toBe(1)
    expect(value(text, 'askad_webhook_queue_depth')).toBe(3)
    expect(value(text, 'askad_webhook_queue_due')).toBe(2)
    expect(value(text, 'askad_webhook_queue_lag_seconds')).toBe(30)
  })

  test('needs no key, and is not itself in the OpenAPI security scheme', async () => {
    h = createHarness()
    expect((await h.request('GET', '/metrics')).status).toBe(200)
    const doc = (await (await h.request('GET', '/openapi.json')).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> }
    expect(doc.paths['/metrics']?.get?.security).toEqual([])
  })
})
