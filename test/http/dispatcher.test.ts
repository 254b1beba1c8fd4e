/**
 * The dispatcher against real receivers on 127.0.0.1, driven by the test clock: signatures checked with
 * the official `standardwebhooks` library, routing, the retry schedule, Retry-After, timeouts,
 * redirects, 410, auto-disable, manual retry and recover, the send-time SSRF check, leases and concurrency.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { hostname } from 'node:os'
import type { EventType } from '../../src/db/outbox'
import type { DispatcherOptions } from '../../src/workers/dispatcher'
import { tcpProbe } from '../../src/workers/send-attempt'
import { DELIVERY_BACKOFF_MS, MAX_SCHEDULED_ATTEMPTS, parseRetryAfter, retryDelayMs } from '../../src/workers/retry-policy'
import { startDispatcherDriver, type DispatcherDriver } from '../dispatcher-driver'
import { createHarness, type Harness } from '../helpers'
import { startReceiver, until, verifyAt, type Answer, type Receiver } from '../webhooks-helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

let h: Harness
let dispatcher: DispatcherDriver
let ws: { id: string; key: string }
const receivers: Receiver[] = []

afterEach(async () => {
  await dispatcher?.stop()
  receivers.splice(0).forEach((r) => r.stop())
  h?.close()
})

async function setup(options: DispatcherOptions = {}, env: Record<string, string> = { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' }) {
  h = createHarness({ env })
  dispatcher = startDispatcherDriver(h.deps, { random: () => 0.5, ...options })
  h.deps.wake = () => dispatcher.wake()
  ws = await h.workspace()
}

function receiver(answer?: Answer): Receiver {
  const r = startReceiver(answer)
  receivers.push(r)
  return r
}

async function endpoint(url: string, extra: Record<string, unknown> = {}): Promise<{ id: string; secret: string }> {
  const res = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url, ...extra } })
  expect(res.status).toBe(201)
  return (await res.json()) as { id: string; secret: string }
}

async function emit(type: EventType, data: Record<string, unknown> = {}): Promise<string> {
  const { eventId, queued } = await h.emit(ws.id, type, data)
  if (queued > 0) h.deps.wake()
  return eventId
}

async function deliveryOf(eventId: string) {
  return (await h.rows.find('webhookDeliveries', { eventId }))!
}

async function attemptsOf(deliveryId: string) {
  return (await h.rows.all('webhookAttempts', { deliveryId })).sort((a, b) => a.attempt - b.attempt)
}

async function endpointRow(id: string) {
  return (await h.rows.find('webhookEndpoints', { id }))!
}

/** Runs attempts, moving the clock to each next attempt, until the delivery is no longer pending. */
async function drive(eventId: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await dispatcher.runDue()
    const d = await deliveryOf(eventId)
    if (d.status !== 'pending') return
    h.clock.set(d.nextAttemptAt!)
  }
  throw new Error('delivery never settled')
}

/** A receiver's handler that holds every request open until `release`, then answers 204. */
function heldAnswers(): { held: () => Promise<Response>; release: () => void } {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  return {
    held: async () => {
      await gate
      return new Response(null, { status: 204 })
    },
    release,
  }
}

describe('what a receiver gets', () => {
  test('POST /leads/inbound reaches the receiver at once, signed so that standardwebhooks verifies it', async () => {
    await setup()
    const rx = receiver()
    const ep = await endpoint(`${rx.url}/hooks`, { headers: { 'X-Receiver-Token': 'tok-123' } })
    const started = performance.now()
    const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'jane@example.com', first_name: 'Jane' } })
    expect(res.status).toBe(201)
    const lead = await res.json()
    await until(() => rx.requests.length === 1, 1_000, 'lead.created at the receiver')
    expect(rx.requests[0]!.at - started).toBeLessThan(1_000)

    const req = rx.requests[0]!
    const payload = verifyAt(ep.secret, req, h.clock.now()) as { id: string; type: string; timestamp: string; data: { lead: { id: string } } }
    expect(payload).toMatchObject({
      type: 'lead.created',
      timestamp: new Date(h.clock.now()).toISOString(),
      data: { lead: { id: lead.id, email: 'jane@example.com' } },
    })
    expect(req.headers['webhook-id']).toBe(payload.id)
    expect(req.headers['webhook-timestamp']).toBe(String(Math.floor(h.clock.now() / 1000)))
    expect(req.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/)
    expect(req.headers['content-type']).toBe('application/json')
    expect(req.headers['user-agent']).toMatch(/^askad-webhooks\/\d+\.\d+\.\d+/)
    expect(req.headers['x-receiver-token']).toBe('tok-123')
    expect(req.path).toBe('/hooks')
  })

  test('after a rotation both secrets verify for 24 h, then only the new one', async () => {
    await setup()
    const rx = receiver()
    const ep = await endpoint(rx.url)
    const rotated = await (await h.request('POST', `/api/v1/webhooks/${ep.id}/rotate-secret`, { key: ws.key })).json()
    expect((await h.request('POST', `/api/v1/webhooks/${ep.id}/test`, { key: ws.key })).status).toBe(202)
    await dispatcher.runDue()
    const during = rx.requests[0]!
    expect(during.headers['webhook-signature']!.split(' ')).toHaveLength(2)
    expect(verifyAt(ep.secret, during, h.clock.now())).toMatchObject({ type: 'webhook.test', data: { endpoint_id: ep.id } })
    expect(verifyAt(rotated.secret, during, h.clock.now())).toMatchObject({ type: 'webhook.test' })

    h.clock.advance(24 * 3600 * 1000 + 1)
    await h.request('POST', `/api/v1/webhooks/${ep.id}/test`, { key: ws.key })
    await dispatcher.runDue()
    const after = rx.requests[1]!
    expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1)
    expect(verifyAt(rotated.secret, after, h.clock.now())).toMatchObject({ type: 'webhook.test' })
    expect(() => verifyAt(ep.secret, after, h.clock.now())).toThrow()
  })

  test('each event type reaches only the endpoints subscribed to it; webhook.test only its endpoint', async () => {
    await setup()
    const rx = receiver()
    const leads = await endpoint(`${rx.url}/leads`, { events: ['lead.created'] })
    await endpoint(`${rx.url}/money`, { events: ['deal.closed', 'campaign.spend_threshold'] })
    await endpoint(`${rx.url}/all`)
    await endpoint(`${rx.url}/off`, { enabled: false })
    for (const type of ['lead.created', 'lead.converted', 'deal.closed', 'campaign.spend_threshold'] as const) await emit(type, { n: 1 })
    await h.request('POST', `/api/v1/webhooks/${leads.id}/test`, { key: ws.key })
    await dispatcher.runDue()

    const typesAt = (path: string) =>
      rx.requests
        .filter((r) => r.path === path)
        .map((r) => JSON.parse(r.body).type)
        .sort()
    expect(typesAt('/leads')).toEqual(['lead.created', 'webhook.test'])
    expect(typesAt('/money')).toEqual(['campaign.spend_threshold', 'deal.closed'])
    expect(typesAt('/all')).toEqual(['campaign.spend_threshold', 'deal.closed', 'lead.converted', 'lead.created'])
    expect(typesAt('/off')).toEqual([])
  })
})

describe('retries', () => {
  test('the full schedule against a receiver that fails 9 times, then succeeds; same webhook-id throughout', async () => {
    await setup()
    const seenAt: number[] = []
    const rx = receiver((_req, i) => {
      seenAt.push(h.clock.now())
      return new Response('nope', { status: i < 9 ? 500 : 200 })
    })
    const ep = await endpoint(rx.url)
    const eventId = await emit('lead.created')
    await dispatcher.runDue()
    for (let i = 0; i < DELIVERY_BACKOFF_MS.length; i++) {
      const d = await deliveryOf(eventId)
      expect(d.status).toBe('pending')
      expect(d.nextAttemptAt! - h.clock.now()).toBe(DELIVERY_BACKOFF_MS[i]!)
      h.clock.set(d.nextAttemptAt! - 1)
      expect(await dispatcher.runDue()).toBe(0)
      h.clock.set(d.nextAttemptAt!)
      expect(await dispatcher.runDue()).toBe(1)
    }
    expect(rx.requests).toHaveLength(10)
    expect(new Set(rx.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([eventId]))
    rx.requests.forEach((req, i) => expect(verifyAt(ep.secret, req, seenAt[i]!)).toMatchObject({ id: eventId }))
    expect(await deliveryOf(eventId)).toMatchObject({ status: 'succeeded', attemptCount: 10, nextAttemptAt: null })
    const attempts = await attemptsOf((await deliveryOf(eventId)).id)
    expect(attempts.map((a) => a.statusCode)).toEqual([500, 500, 500, 500, 500, 500, 500, 500, 500, 200])
    expect(attempts.every((a) => a.trigger === 'scheduled')).toBe(true)
    expect(attempts[0]).toMatchObject({ errorClass: 'http', responseBody: 'nope', nextAttemptAt: attempts[1]!.startedAt })
    expect(await endpointRow(ep.id)).toMatchObject({ failingSince: null, lastSuccessAt: attempts[9]!.startedAt })
  })

  test('after the last scheduled attempt the delivery is failed', async () => {
    await setup()
    const rx = receiver(() => new Response('down', { status: 500 }))
    await endpoint(rx.url)
    const eventId = await emit('deal.closed')
    await drive(eventId)
    const d = await deliveryOf(eventId)
    expect(d).toMatchObject({ status: 'failed', attemptCount: MAX_SCHEDULED_ATTEMPTS, nextAttemptAt: null })
    expect((await attemptsOf(d.id)).at(-1)!.nextAttemptAt).toBeNull()
  })

  test('jitter stays within ±20 %; Retry-After is honoured up to schedule + 2 h; 429 and timeouts wait ≥ 60 s', () => {
    const plain = { statusCode: 500, timedOut: false, retryAfterMs: null }
    expect(retryDelayMs(1, plain, () => 0)).toBe(4_000)
    expect(retryDelayMs(1, plain, () => 0.999999)).toBeCloseTo(6_000, -1)
    expect(retryDelayMs(9, plain, () => 0.5)).toBe(24 * 3600_000)
    expect(retryDelayMs(10, plain, () => 0.5)).toBeNull()
    expect(retryDelayMs(2, { statusCode: 503, timedOut: false, retryAfterMs: 3600_000 }, () => 0.5)).toBe(3600_000)
    expect(retryDelayMs(2, { statusCode: 503, timedOut: false, retryAfterMs: 10 * 3600_000 }, () => 0.5)).toBe(300_000 + 2 * 3600_000)
    expect(retryDelayMs(2, { statusCode: 500, timedOut: false, retryAfterMs: 3600_000 }, () => 0.5)).toBe(300_000)
    expect(retryDelayMs(1, { statusCode: 429, timedOut: false, retryAfterMs: null }, () => 0.5)).toBe(60_000)
    expect(retryDelayMs(1, { statusCode: null, timedOut: true, retryAfterMs: null }, () => 0.5)).toBe(60_000)
    const now = Date.parse('2026-11-01T12:00:00Z')
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter('Sun, 01 Nov 2026 12:10:00 GMT', now)).toBe(600_000)
    expect(parseRetryAfter('soon', now)).toBeNull()
  })

  test('Retry-After on 429/503 through a real receiver', async () => {
    await setup()
    const answers = [
      () => new Response(null, { status: 429 }),
      () => new Response(null, { status: 503, headers: { 'retry-after': '600' } }),
      () => new Response(null, { status: 503, headers: { 'retry-after': '99999' } }),
      () => new Response(null, { status: 200 }),
    ]
    const rx = receiver((_req, i) => answers[i]!())
    await endpoint(rx.url)
    const eventId = await emit('lead.created')
    const waits: number[] = []
    for (let i = 0; i < 3; i++) {
      await dispatcher.runDue()
      const d = await deliveryOf(eventId)
      waits.push(d.nextAttemptAt! - h.clock.now())
      h.clock.set(d.nextAttemptAt!)
    }
    await dispatcher.runDue()
    expect(waits).toEqual([60_000, 600_000, 30 * 60_000 + 2 * 3600_000])
    expect(rx.requests).toHaveLength(4)
    expect((await deliveryOf(eventId)).status).toBe('succeeded')
  })

  test('a receiver that hangs: the attempt times out, is recorded as timeout, and waits ≥ 60 s', async () => {
    await setup({ attemptTimeoutMs: 150 })
    const rx = receiver(async (_req, i) => {
      if (i === 0) await Bun.sleep(3_000)
      return new Response('ok')
    })
    await endpoint(rx.url)
    const eventId = await emit('lead.created')
    await dispatcher.runDue()
    const d = await deliveryOf(eventId)
    const [attempt] = await attemptsOf(d.id)
    expect(attempt).toMatchObject({ errorClass: 'timeout', statusCode: null })
    expect(attempt!.durationMs).toBeGreaterThanOrEqual(140)
    expect(attempt!.durationMs).toBeLessThan(2_000)
    expect(d.nextAttemptAt! - h.clock.now()).toBe(60_000)
    h.clock.set(d.nextAttemptAt!)
    await dispatcher.runDue()
    expect((await deliveryOf(eventId)).status).toBe('succeeded')
  })

  test('connecting is limited to 5 s (here 100 ms) for an endpoint without a recent success; healthy ones skip the probe', async () => {
    const probes: number[] = []
    let hang = true
    await setup({
      connectTimeoutMs: 100,
      connect: (address, port, timeoutMs) => {
        probes.push(port)
        // A host that drops SYNs: nothing answers until the timeout, the first time.
        return hang ? Bun.sleep(timeoutMs).then(() => 'timeout' as const) : tcpProbe(address, port, timeoutMs)
      },
    })
    const rx = receiver()
    await endpoint(rx.url)
    const first = await emit('lead.created')
    await dispatcher.runDue()
    const d = await deliveryOf(first)
    const [attempt] = await attemptsOf(d.id)
    expect(attempt).toMatchObject({ errorClass: 'timeout', statusCode: null, errorMessage: expect.stringContaining('could not connect within 100 ms') })
    expect(attempt!.durationMs).toBeLessThan(2_000)
    expect(rx.requests).toHaveLength(0) // never sent: the connection was not there
    expect(d.nextAttemptAt! - h.clock.now()).toBe(60_000)

    hang = false
    h.clock.set(d.nextAttemptAt!)
    await dispatcher.runDue()
    expect((await deliveryOf(first)).status).toBe('succeeded')
    expect(probes).toHaveLength(2)

    // Proven healthy now: the next event goes straight to fetch.
    await emit('lead.created')
    await dispatcher.runDue()
    expect(rx.requests).toHaveLength(2)
    expect(probes).toHaveLength(2)
  })

  test('the real probe reports a closed port as a connect error without sending anything', async () => {
    await setup()
    const closed = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() })
    const url = `http://127.0.0.1:${closed.port}/hooks`
    closed.stop(true)
    await endpoint(url)
    const eventId = await emit('lead.created')
    await dispatcher.runDue()
    const [attempt] = await attemptsOf((await deliveryOf(eventId)).id)
    expect(attempt).toMatchObject({ errorClass: 'connect', statusCode: null })
  })

  test('a redirect is not followed and counts as a failure', async () => {
    await setup()
    const target = receiver()
    const rx = receiver(() => new Response(null, { status: 302, headers: { location: `${target.url}/elsewhere` } }))
    await endpoint(rx.url)
    const eventId = await emit('lead.created')
    await dispatcher.runDue()
    expect(target.requests).toHaveLength(0)
    const d = await deliveryOf(eventId)
    expect(d).toMatchObject({ status: 'pending', lastStatusCode: 302 })
    expect((await attemptsOf(d.id))[0]).toMatchObject({ statusCode: 302, errorClass: 'http', errorMessage: expect.stringContaining('redirect') })
  })

  test('the delivery log keeps the first 20 KB of a response body', async () => {
    await setup()
    const rx = receiver(() => new Response('x'.repeat(30 * 1024), { status: 500 }))
    await endpoint(rx.url)
    const eventId = await emit('lead.created')
    await dispatcher.runDue()
    expect((await attemptsOf((await deliveryOf(eventId)).id))[0]!.responseBody).toHaveLength(20 * 1024)
  })
})

describe('endpoint health', () => {
  test('410 Gone disables the endpoint at once; new events are not queued until it is re-enabled', async () => {
    await setup()
    const rx = receiver(() => new Response('gone', { status: 410 }))
    const ep = await endpoint(rx.url)
    const eventId = await emit('lead.created')
    await dispatcher.runDue()
    expect((await deliveryOf(eventId)).status).toBe('failed')
    const got = await (await h.request('GET', `/api/v1/webhooks/${ep.id}`, { key: ws.key })).json()
    expect(got).toMatchObject({ enabled: false, disabled_reason: expect.stringContaining('410') })
    expect(h.logs.some((l) => JSON.parse(l).msg === 'webhook.disabled')).toBe(true)
    const { queued } = await h.emit(ws.id, 'lead.created')
    expect(queued).toBe(0)
    const reenabled = await h.request('PATCH', `/api/v1/webhooks/${ep.id}`, { key: ws.key, body: { enabled: true } })
    expect(await reenabled.json()).toMatchObject({ enabled: true, disabled_reason: null })
  })

  test('no 2xx for 5 days and a delivery out of retries disables the endpoint; re-enabling and a success reset it', async () => {
    await setup()
    let healthy = false
    const rx = receiver(() => new Response(null, { status: healthy ? 200 : 500 }))
    const ep = await endpoint(rx.url)
    const t0 = h.clock.now()
    const first = await emit('lead.created')
    await drive(first)
    expect((await deliveryOf(first)).status).toBe('failed')
    expect(await endpointRow(ep.id)).toMatchObject({ enabled: true, failingSince: t0 })
    expect(h.clock.now() - t0).toBeLessThan(5 * 24 * 3600_000)

    const second = await emit('lead.created')
    await drive(second)
    expect((await deliveryOf(second)).status).toBe('failed')
    const disabled = await (await h.request('GET', `/api/v1/webhooks/${ep.id}`, { key: ws.key })).json()
    expect(disabled).toMatchObject({ enabled: false, disabled_reason: expect.stringContaining('5 days'), failing_since: new Date(t0).toISOString() })
    const line = h.logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'webhook.disabled')
    expect(line).toMatchObject({ endpoint_id: ep.id })

    const reenabled = await (await h.request('PATCH', `/api/v1/webhooks/${ep.id}`, { key: ws.key, body: { enabled: true } })).json()
    expect(reenabled).toMatchObject({ enabled: true, disabled_reason: null, failing_since: null })
    healthy = true
    const retried = await h.request('POST', `/api/v1/webhooks/${ep.id}/deliveries/${(await deliveryOf(second)).id}/retry`, { key: ws.key })
    expect(retried.status).toBe(202)
    await dispatcher.runDue()
    expect(await endpointRow(ep.id)).toMatchObject({ enabled: true, failingSince: null, lastSuccessAt: h.clock.now() })
  })
})

describe('manual redelivery', () => {
  test('retry one delivery and recover everything failed since T, with the original webhook-id', async () => {
    await setup()
    let healthy = false
    const rx = receiver(() => new Response(null, { status: healthy ? 204 : 500 }))
    const ep = await endpoint(rx.url)
    const older = await emit('lead.created')
    h.clock.advance(60_000)
    const since = new Date(h.clock.now()).toISOString()
    const newer = await emit('deal.closed')
    await drive(newer)
    expect([(await deliveryOf(older)).status, (await deliveryOf(newer)).status]).toEqual(['failed', 'failed'])
    healthy = true

    const res = await h.request('POST', `/api/v1/webhooks/${ep.id}/deliveries/${(await deliveryOf(older)).id}/retry`, { key: ws.key })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ status: 'pending', event_id: older })
    await dispatcher.runDue()
    expect(rx.requests.at(-1)!.headers['webhook-id']).toBe(older)
    expect(await deliveryOf(older)).toMatchObject({ status: 'succeeded', attemptCount: 11 })
    expect((await attemptsOf((await deliveryOf(older)).id)).at(-1)).toMatchObject({ attempt: 11, trigger: 'manual', statusCode: 204 })

    const recovered = await h.request('POST', `/api/v1/webhooks/${ep.id}/recover`, { key: ws.key, body: { since } })
    expect(await recovered.json()).toEqual({ queued: 1 })
    await dispatcher.runDue()
    expect(rx.requests.at(-1)!.headers['webhook-id']).toBe(newer)
    expect((await deliveryOf(newer)).status).toBe('succeeded')
    expect(await (await h.request('POST', `/api/v1/webhooks/${ep.id}/recover`, { key: ws.key, body: { since } })).json()).toEqual({ queued: 0 })

    const log = await (await h.request('GET', `/api/v1/webhooks/${ep.id}/deliveries?status=succeeded`, { key: ws.key })).json()
    expect(log.pagination.total).toBe(2)
    expect(log.data[0]).toMatchObject({ event_id: newer, event_type: 'deal.closed', status: 'succeeded' })
    expect(log.data[1].attempts).toHaveLength(11)
    expect(log.data[1].attempts[10]).toMatchObject({ attempt: 11, trigger: 'manual', status_code: 204, error_class: null })
  })

  test('a manual attempt that fails after the schedule is used up leaves the delivery failed', async () => {
    await setup()
    const rx = receiver(() => new Response(null, { status: 500 }))
    const ep = await endpoint(rx.url)
    const eventId = await emit('lead.created')
    await drive(eventId)
    await h.request('POST', `/api/v1/webhooks/${ep.id}/deliveries/${(await deliveryOf(eventId)).id}/retry`, { key: ws.key })
    await dispatcher.runDue()
    expect(await deliveryOf(eventId)).toMatchObject({ status: 'failed', attemptCount: 11, nextAttemptAt: null })
  })
})

describe('send-time SSRF check', () => {
  test('a host that now resolves to a blocked address is not contacted; the attempt is recorded as blocked', async () => {
    const calls: string[] = []
    const recordingFetch = (async (url: string | URL | Request) => {
      calls.push(String(url))
      return new Response('ok')
    }) as typeof fetch
    let address = '93.184.216.34'
    await setup({ fetch: recordingFetch }, {})
    h.deps.resolveHost = async () => [address]
    await endpoint('https://hooks.example.com/askad')
    address = '10.0.0.5'
    const eventId = await emit('lead.created')
    await dispatcher.runDue()
    expect(calls).toEqual([])
    expect((await attemptsOf((await deliveryOf(eventId)).id))[0]).toMatchObject({ errorClass: 'blocked', errorMessage: expect.stringContaining('10.0.0.5') })
    address = '93.184.216.34'
    h.clock.set((await deliveryOf(eventId)).nextAttemptAt!)
    await dispatcher.runDue()
    // Sent to the address just checked, not to a second DNS answer (security.test.ts covers Host and TLS name).
    expect(calls).toEqual(['https://93.184.216.34/askad'])
    expect((await deliveryOf(eventId)).status).toBe('succeeded')
  })
})

describe('leases and concurrency', () => {
  test('at most 10 attempts in flight per endpoint', async () => {
    await setup()
    const { held, release } = heldAnswers()
    const rx = receiver(held)
    await endpoint(rx.url)
    for (let i = 0; i < 25; i++) await emit('lead.created', { i })
    await until(() => rx.open() === 10, 5_000, '10 open requests')
    await Bun.sleep(100)
    expect(rx.open()).toBe(10)
    release()
    await dispatcher.runDue()
    expect(rx.requests).toHaveLength(25)
    expect(rx.peakOpen()).toBe(10)
  })

  test("an endpoint's max_in_flight is its cap: 15 for one endpoint, the default 10 for another, at the same time", async () => {
    await setup()
    const { held, release } = heldAnswers()
    const roomy = receiver(held)
    const plain = receiver(held)
    await endpoint(roomy.url, { max_in_flight: 15 })
    await endpoint(plain.url)
    for (let i = 0; i < 30; i++) await emit('lead.created', { i })
    await until(() => roomy.open() === 15 && plain.open() === 10, 5_000, '15 and 10 open requests')
    await Bun.sleep(100)
    expect([roomy.open(), plain.open()]).toEqual([15, 10])
    release()
    await dispatcher.runDue()
    expect([roomy.requests.length, plain.requests.length]).toEqual([30, 30])
    expect([roomy.peakOpen(), plain.peakOpen()]).toEqual([15, 10])
  })

  test('a lowered max_in_flight holds from the next claim: 2 at once after PATCH, where 10 were allowed', async () => {
    await setup()
    const { held, release } = heldAnswers()
    const rx = receiver(held)
    const { id } = await endpoint(rx.url)
    expect((await h.request('PATCH', `/api/v1/webhooks/${id}`, { key: ws.key, body: { max_in_flight: 2 } })).status).toBe(200)
    for (let i = 0; i < 8; i++) await emit('lead.created', { i })
    await until(() => rx.open() === 2, 5_000, '2 open requests')
    await Bun.sleep(100)
    expect(rx.open()).toBe(2)
    release()
    await dispatcher.runDue()
    expect(rx.requests).toHaveLength(8)
    expect(rx.peakOpen()).toBe(2)
  })

  test("a live owner's lease is respected until it expires; a dead local process's lease is released at start", async () => {
    await setup()
    const rx = receiver()
    await endpoint(rx.url)
    await dispatcher.stop()
    const eventId = await emit('lead.created')
    const lease = (owner: string) => h.rows.update('webhookDeliveries', { eventId }, { leaseOwner: owner, leaseUntil: h.clock.now() + 60_000 })

    await lease(`${hostname()}:${process.ppid}:alive`)
    dispatcher = startDispatcherDriver(h.deps, { random: () => 0.5 })
    expect(await dispatcher.runDue()).toBe(0)
    await dispatcher.stop()

    const exited = Bun.spawnSync(['true'])
    await lease(`${hostname()}:${exited.pid}:crashed`)
    dispatcher = startDispatcherDriver(h.deps, { random: () => 0.5 })
    expect(await dispatcher.runDue()).toBe(1)
    expect(rx.requests[0]!.headers['webhook-id']).toBe(eventId)
    await dispatcher.stop()

    const second = await emit('lead.created')
    await h.rows.update('webhookDeliveries', { eventId: second }, { leaseOwner: `${hostname()}:${process.ppid}:alive`, leaseUntil: h.clock.now() + 60_000 })
    dispatcher = startDispatcherDriver(h.deps, { random: () => 0.5 })
    expect(await dispatcher.runDue()).toBe(0)
    h.clock.advance(60_001)
    expect(await dispatcher.runDue()).toBe(1)
  })
})

describe('fairness between tenants and endpoints', () => {
  /** Attempts to hanging endpoints give up after this; the old dispatcher made healthy ones wait about as long. */
  const HANG_TIMEOUT_MS = 1_500
  const hang = () => Bun.sleep(HANG_TIMEOUT_MS * 2).then(() => new Response(null, { status: 204 }))

  async function addEndpoint(key: string, url: string, events = ['*']) {
    expect((await h.request('POST', '/api/v1/webhooks', { key, body: { url, events } })).status).toBe(201)
  }

  async function emitIn(workspaceId: string, i: number, type: EventType = 'lead.created') {
    await h.emit(workspaceId, type, { i })
    h.deps.wake()
  }

  /** Sends 10 events to `workspaceId` 30 ms apart once the hanging backlog is in flight; the p50 until `fast` got each. */
  async function healthyP50(workspaceId: string, fast: Receiver, type: EventType = 'lead.created'): Promise<number> {
    const sentAt: number[] = []
    for (let i = 0; i < 10; i++) {
      sentAt.push(performance.now())
      await emitIn(workspaceId, 1_000 + i, type)
      await Bun.sleep(30)
    }
    const fresh = () => fast.requests.filter((r) => (JSON.parse(r.body) as { data: { i: number } }).data.i >= 1_000)
    await until(() => fresh().length === 10, HANG_TIMEOUT_MS * 4, 'the healthy deliveries')
    const latencies = fresh()
      .map((r) => r.at - sentAt[(JSON.parse(r.body) as { data: { i: number } }).data.i - 1_000]!)
      .sort((a, b) => a - b)
    return latencies[5]!
  }

  test("a tenant whose endpoints hang holds only its share of the slots: another tenant's deliveries arrive at once", async () => {
    await setup({ attemptTimeoutMs: HANG_TIMEOUT_MS })
    const stuck = await h.workspace()
    const healthy = await h.workspace()
    for (let i = 0; i < 5; i++) await addEndpoint(stuck.key, receiver(hang).url)
    const fast = receiver()
    await addEndpoint(healthy.key, fast.url)
    // A backlog of 100 deliveries to the hanging endpoints, older than anything the healthy tenant sends.
    for (let i = 0; i < 20; i++) await emitIn(stuck.id, i)
    await Bun.sleep(100)
    expect(await healthyP50(healthy.id, fast)).toBeLessThan(HANG_TIMEOUT_MS / 3)
  }, 15_000)

  test('endpoints of one workspace that hang leave slots for its healthy endpoint', async () => {
    await setup({ attemptTimeoutMs: HANG_TIMEOUT_MS })
    for (let i = 0; i < 5; i++) await addEndpoint(ws.key, receiver(hang).url, ['lead.created'])
    const fast = receiver()
    await addEndpoint(ws.key, fast.url, ['deal.closed'])
    for (let i = 0; i < 20; i++) await emitIn(ws.id, i)
    await Bun.sleep(100)
    expect(await healthyP50(ws.id, fast, 'deal.closed')).toBeLessThan(HANG_TIMEOUT_MS / 3)
  }, 15_000)
})
