/**
 * Security regressions found in review: secrets never at rest in the idempotency table nor cacheable,
 * webhook attempts pinned to the address the SSRF check approved (no DNS rebinding), reserved IPv6
 * space refused, and dashboard pages held to the signed-in key's scopes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseRanges } from '../../src/lib/client-ip'
import { checkUrl, specialRange, type HostResolver } from '../../src/lib/ssrf'
import { sendAttempt, type AttemptEnv, type AttemptRequest, tcpProbe } from '../../src/workers/send-attempt'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
afterAll(() => h.close())

/** Everything SQLite holds on disk right now: the database file and its write-ahead log. */
function bytesAtRest(): string {
  return [h.dbPath, `${h.dbPath}-wal`]
    .filter(existsSync)
    .map((p) => readFileSync(p).toString('latin1'))
    .join('')
}

const ORIGIN = 'http://localhost'
const form = (fields: Record<string, string>) => new URLSearchParams(fields)

/** Signs in to the dashboard; `post` sends a form with the session's CSRF token. */
async function dashboardSession(key: string) {
  const res = await h.request('POST', '/dashboard/sign-in', {
    rawBody: form({ key, next: '/dashboard/settings/api-keys' }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
  })
  expect(res.status).toBe(303)
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!
  // Workspace pages live under /dashboard/w/<slug>, where /dashboard redirects; paths here are given as /dashboard/<page>.
  const base = (await h.request('GET', '/dashboard', { headers: { cookie } })).headers.get('location')!
  const at = (path: string) => `${base}${path.replace(/^\/dashboard/, '')}`
  const get = (path: string) => h.request('GET', at(path), { headers: { cookie } })
  const keysPage = await (await get('/dashboard/settings/api-keys')).text()
  const csrf = /name="_csrf" value="([^"]+)"/.exec(keysPage)![1]!
  const post = (path: string, fields: Record<string, string>) =>
    h.request('POST', at(path), {
      rawBody: form({ _csrf: csrf, ...fields }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, cookie },
    })
  return { get, post }
}

describe('tenant isolation', () => {
  test("every route taking an id answers 404 for another workspace's id, and changes nothing", async () => {
    const mine = await h.workspace()
    const theirs = await h.workspace()
    const as = (key: string) => (method: string, path: string, body?: unknown) => h.request(method, path, { key, body })
    const them = as(theirs.key)
    const lead = (await (await them('POST', '/api/v1/leads/inbound', { email: 'victim@example.com' })).json()) as { id: string; contact_id: string }
    const deal = (await (await them('POST', '/api/v1/deals', { title: 'Secret deal', value: 10, currency: 'USD' })).json()) as { id: string }
    const campaign = (await (await them('POST', '/api/v1/campaigns', { name: 'C', currency: 'USD', spend_thresholds: [5] })).json()) as { id: string }
    const hook = (await (await them('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/in' })).json()) as { id: string }
    const test = (await (await them('POST', `/api/v1/webhooks/${hook.id}/test`)).json()) as { delivery_id: string }
    const ownHook = (await (await as(mine.key)('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/mine' })).json()) as { id: string }
    const tables = ['leads', 'contacts', 'deals', 'campaigns', 'webhookEndpoints', 'webhookDeliveries', 'apiKeys'] as const
    // Each table's rows in id order: an engine may return unchanged rows in any order.
    const snapshot = async () =>
      JSON.stringify(
        await Promise.all(tables.map(async (table) => (await h.rows.all(table, { workspaceId: theirs.id })).sort((a, b) => (a.id < b.id ? -1 : 1)))),
      )
    const before = await snapshot()

    const me = as(mine.key)
    const probes: [string, string, unknown?][] = [
      ['GET', `/api/v1/leads/${lead.id}`],
      ['POST', `/api/v1/leads/${lead.id}/convert`, {}],
      ['GET', `/api/v1/contacts/${lead.contact_id}`],
      ['PATCH', `/api/v1/contacts/${lead.contact_id}`, { first_name: 'Mallory' }],
      ['GET', `/api/v1/deals/${deal.id}`],
      ['PATCH', `/api/v1/deals/${deal.id}`, { stage: 'won' }],
      ['GET', `/api/v1/campaigns/${campaign.id}`],
      ['PATCH', `/api/v1/campaigns/${campaign.id}`, { name: 'Mine now' }],
      ['POST', `/api/v1/campaigns/${campaign.id}/spend`, { amount: 100 }],
      ['GET', `/api/v1/webhooks/${hook.id}`],
      ['PATCH', `/api/v1/webhooks/${hook.id}`, { enabled: false }],
      ['POST', `/api/v1/webhooks/${hook.id}/rotate-secret`],
      ['POST', `/api/v1/webhooks/${hook.id}/test`],
      ['POST', `/api/v1/webhooks/${hook.id}/recover`, { since: '2020-01-01T00:00:00Z' }],
      ['GET', `/api/v1/webhooks/${hook.id}/deliveries`],
      ['POST', `/api/v1/webhooks/${hook.id}/deliveries/${test.delivery_id}/retry`],
      ['POST', `/api/v1/webhooks/${ownHook.id}/deliveries/${test.delivery_id}/retry`],
      ['DELETE', `/api/v1/webhooks/${hook.id}`],
      ['GET', `/api/v1/api-keys/${theirs.keyId}`],
      ['DELETE', `/api/v1/api-keys/${theirs.keyId}`],
    ]
    for (const [method, path, body] of probes) {
      const res = await me(method, path, body)
      expect([method, path, res.status]).toEqual([method, path, 404])
    }
    for (const path of [`/api/v1/leads?contact_id=${lead.contact_id}`, `/api/v1/deals?contact_id=${lead.contact_id}`]) {
      expect((await (await me('GET', path)).json()).pagination.total).toBe(0)
    }
    const linked = await me('POST', '/api/v1/deals', { title: 'x', value: 1, currency: 'USD', contact_id: lead.contact_id })
    expect(linked.status).toBe(422)
    expect(await snapshot()).toBe(before)
    expect((await them('GET', `/api/v1/contacts/${lead.contact_id}`)).status).toBe(200)
  })

  test("the dashboard answers 404 for another workspace's contact, endpoint and delivery", async () => {
    const theirs = await h.workspace()
    const lead = (await (await h.request('POST', '/api/v1/leads/inbound', { key: theirs.key, body: { email: 'victim2@example.com' } })).json()) as {
      contact_id: string
    }
    const hook = (await (await h.request('POST', '/api/v1/webhooks', { key: theirs.key, body: { url: 'http://127.0.0.1:9/in' } })).json()) as { id: string }
    const mine = await h.workspace()
    const s = await dashboardSession(mine.key)
    for (const path of [`/dashboard/contacts/${lead.contact_id}`, `/dashboard/settings/webhooks/${hook.id}`]) expect((await s.get(path)).status).toBe(404)
    for (const action of ['test', 'rotate', 'disable', 'recover']) {
      expect((await s.post(`/dashboard/settings/webhooks/${hook.id}/${action}`, { since: '2020-01-01T00:00' })).status).toBe(404)
    }
    expect(await h.rows.find('webhookEndpoints', { id: hook.id })).toMatchObject({ enabled: true, previousSecret: null })
  })
})

describe('secrets shown once are never stored or cached', () => {
  test('a new API key created with Idempotency-Key is nowhere on disk; the replay shows only its prefix and mints nothing', async () => {
    const ws = await h.workspace()
    const post = () => h.request('POST', '/api/v1/api-keys', { key: ws.key, body: { kind: 'secret', name: 'idem' }, headers: { 'idempotency-key': 'mint-1' } })
    const first = await post()
    expect(first.status).toBe(201)
    expect(first.headers.get('cache-control')).toBe('no-store')
    const { key, prefix } = (await first.json()) as { key: string; prefix: string }
    // The file bytes only on SQLite (a PostgreSQL cluster's files are not the harness's to read); the rows on both.
    if (h.engine === 'sqlite') {
      h.db.$client.exec('PRAGMA wal_checkpoint(TRUNCATE)')
      expect(bytesAtRest()).not.toContain(key.slice(7, -6))
    }
    expect(JSON.stringify(await h.rows.all('idempotencyKeys'))).not.toContain(key)

    const replay = await post()
    expect(replay.status).toBe(201)
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(replay.headers.get('cache-control')).toBe('no-store')
    const replayed = (await replay.json()) as { key: string; prefix: string }
    expect(replayed.key).toBe(`${key.slice(0, 11)}…`)
    expect(replayed.prefix).toBe(prefix)
    expect(await h.rows.all('apiKeys', { workspaceId: ws.id })).toHaveLength(2)
  })

  test('webhook signing secrets (creation and rotation) are sent with no-store and never kept for replays', async () => {
    const ws = await h.workspace()
    const created = await h.request('POST', '/api/v1/webhooks', {
      key: ws.key,
      body: { url: 'http://127.0.0.1:9/in' },
      headers: { 'idempotency-key': 'hook-1' },
    })
    expect(created.status).toBe(201)
    expect(created.headers.get('cache-control')).toBe('no-store')
    const { id, secret } = (await created.json()) as { id: string; secret: string }
    const rotated = await h.request('POST', `/api/v1/webhooks/${id}/rotate-secret`, { key: ws.key, headers: { 'idempotency-key': 'rotate-1' } })
    expect(rotated.status).toBe(200)
    expect(rotated.headers.get('cache-control')).toBe('no-store')
    const next = ((await rotated.json()) as { secret: string }).secret

    const stored = JSON.stringify(await h.rows.all('idempotencyKeys'))
    for (const s of [secret, next]) expect(stored).not.toContain(s.slice('whsec_'.length))

    const replay = await h.request('POST', `/api/v1/webhooks/${id}/rotate-secret`, { key: ws.key, headers: { 'idempotency-key': 'rotate-1' } })
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(((await replay.json()) as { secret: string }).secret).toBe('whsec_…')
    expect((await h.rows.find('webhookEndpoints', { id }))!.secret).toBe(next)
  })
})

describe('SSRF: reserved IPv6 space', () => {
  const none = parseRanges([])
  test.each(['::7f00:1', '::a9fe:a9fe', '::a00:5', '1::1', '4000::1'])('%s (IPv4-compatible or unassigned) is refused', async (address) => {
    expect(specialRange(address)).toBe('reserved')
    const check = await checkUrl(`http://[${address}]/`, none, async () => [])
    expect(check).toMatchObject({ ok: false, reason: 'blocked' })
  })

  test('global unicast IPv6 stays allowed, also as a DNS answer', async () => {
    expect(specialRange('2606:2800:220:1:248:1893:25c8:1946')).toBeNull()
    expect(await checkUrl('https://hooks.example.com/', none, async () => ['2606:2800:220:1:248:1893:25c8:1946'])).toMatchObject({ ok: true })
  })

  test('a webhook URL on such an address is a 422', async () => {
    const ws = await h.workspace()
    const res = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: 'http://[::a9fe:a9fe]/latest/meta-data' } })
    expect(res.status).toBe(422)
    expect(await res.text()).toContain('blocked address')
  })
})

describe('SSRF: the attempt connects to the address that was checked', () => {
  const request = (url: string): AttemptRequest => ({
    url,
    eventId: 'msg_1',
    payload: '{"a":1}',
    secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    headers: {},
    probeConnect: false,
  })
  const env = (overrides: Partial<AttemptEnv>): AttemptEnv => ({
    fetch,
    resolveHost: async () => [],
    allow: parseRanges(['127.0.0.0/8']),
    now: Date.parse('2026-11-01T12:00:00Z'),
    timeoutMs: 5_000,
    connectTimeoutMs: 5_000,
    connect: tcpProbe,
    userAgent: 'askad-webhooks/test',
    ...overrides,
  })

  test('fetch gets the checked address in the URL and the name in Host and TLS server name', async () => {
    const calls: { url: string; init: RequestInit & { tls?: { serverName?: string } } }[] = []
    const recording = (async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), init: init! })
      return new Response('ok')
    }) as typeof fetch
    const outcome = await sendAttempt(
      request('https://hooks.example.com/askad?x=1'),
      env({ fetch: recording, resolveHost: async () => ['93.184.216.34'], allow: parseRanges([]) }),
    )
    expect(outcome.statusCode).toBe(200)
    expect(calls).toHaveLength(1)
    expect(calls[0]!.url).toBe('https://93.184.216.34/askad?x=1')
    expect((calls[0]!.init.headers as Record<string, string>).host).toBe('hooks.example.com')
    expect(calls[0]!.init.tls?.serverName).toBe('hooks.example.com')
  })

  test('DNS rebinding: the name later resolving elsewhere (here: localhost → 127.0.0.1) is never contacted', async () => {
    const internal: string[] = []
    const inside = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (r) => (internal.push(r.url), new Response('internal secrets')) })
    const received: string[] = []
    const receiver = Bun.serve({
      port: inside.port,
      hostname: '127.0.0.2',
      fetch: (r) => (received.push(r.headers.get('host')!), new Response(null, { status: 204 })),
    })
    try {
      // The check sees 127.0.0.2 (allowed); the system resolver would answer 127.0.0.1 (or ::1) for the same name.
      const resolver: HostResolver = async () => ['127.0.0.2']
      const outcome = await sendAttempt(request(`http://localhost:${inside.port}/hook`), env({ resolveHost: resolver, allow: parseRanges(['127.0.0.2/32']) }))
      expect(outcome).toMatchObject({ statusCode: 204, errorClass: null })
      expect(received).toEqual([`localhost:${inside.port}`])
      expect(internal).toEqual([])
    } finally {
      inside.stop(true)
      receiver.stop(true)
    }
  })

  test('an address that refuses the connection is skipped for the next checked one, as fetch would', async () => {
    const received: string[] = []
    const receiver = Bun.serve({ port: 0, hostname: '127.0.0.2', fetch: (r) => (received.push(r.headers.get('host')!), new Response(null, { status: 204 })) })
    try {
      const resolver: HostResolver = async () => ['127.0.0.3', '127.0.0.2']
      const outcome = await sendAttempt(request(`http://two.test:${receiver.port}/hook`), env({ resolveHost: resolver }))
      expect(outcome).toMatchObject({ statusCode: 204, errorClass: null })
      expect(received).toEqual([`two.test:${receiver.port}`])
    } finally {
      receiver.stop(true)
    }
  })

  describe('https to a pinned address', () => {
    let dir: string
    let ca: string
    let server: ReturnType<typeof Bun.serve>
    const hosts: string[] = []

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'askad-tls-'))
      const made = Bun.spawnSync(
        [
          'openssl',
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=hooks.test',
          '-addext',
          'subjectAltName=DNS:hooks.test',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stderr: 'pipe' },
      )
      if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`)
      ca = readFileSync(join(dir, 'cert.pem'), 'utf8')
      server = Bun.serve({
        port: 0,
        hostname: '127.0.0.1',
        tls: { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: ca },
        fetch: (r) => (hosts.push(r.headers.get('host')!), new Response(null, { status: 204 })),
      })
    })
    afterAll(() => {
      server?.stop(true)
      rmSync(dir, { recursive: true, force: true })
    })

    /** Real fetch trusting the test CA, as a public CA is trusted in production. */
    const trusting = ((url: string | URL | Request, init?: RequestInit & { tls?: object }) =>
      fetch(url, { ...init, tls: { ...init?.tls, ca } } as RequestInit)) as typeof fetch

    test('the certificate is verified against the host name, not the address', async () => {
      const resolver: HostResolver = async (host) => (host === 'hooks.test' || host === 'other.test' ? ['127.0.0.1'] : [])
      const ok = await sendAttempt(request(`https://hooks.test:${server.port}/in`), env({ fetch: trusting, resolveHost: resolver }))
      expect(ok).toMatchObject({ statusCode: 204, errorClass: null })
      expect(hosts).toEqual([`hooks.test:${server.port}`])

      const wrongName = await sendAttempt(request(`https://other.test:${server.port}/in`), env({ fetch: trusting, resolveHost: resolver }))
      expect(wrongName).toMatchObject({ statusCode: null, errorClass: 'tls' })
      expect(hosts).toHaveLength(1)
    })
  })
})

describe('dashboard pages act with the signed-in key’s scopes', () => {
  test('a keys:manage-only key can manage keys but cannot read leads or contacts, nor add a webhook that would export them', async () => {
    const ws = await h.workspace('scoped-dash', { scopes: ['keys:manage'] })
    const s = await dashboardSession(ws.key)
    expect((await s.get('/dashboard/settings/api-keys')).status).toBe(200)
    for (const path of ['/dashboard', '/dashboard/contacts', '/dashboard/leads', '/dashboard/deals', '/dashboard/settings/webhooks']) {
      const res = await s.get(path)
      expect(res.status).toBe(403)
      expect(await res.text()).toContain('lacks the scope')
    }
    const hook = await s.post('/dashboard/settings/webhooks', { url: 'http://127.0.0.1:9/exfiltrate' })
    expect(hook.status).toBe(403)
    expect(await h.rows.all('webhookEndpoints', { workspaceId: ws.id })).toEqual([])
  })

  test('a key holding the scope still gets the page', async () => {
    const ws = await h.workspace('scoped-dash-reader', { scopes: ['keys:manage', 'contacts:read'] })
    const s = await dashboardSession(ws.key)
    expect((await s.get('/dashboard/contacts')).status).toBe(200)
    expect((await s.get('/dashboard/leads')).status).toBe(403)
  })
})
