/**
 * A receiver that answers 500, then hangs past the attempt deadline, then resets connections, then
 * recovers: every event is delivered after the recovery under its original webhook-id, and every
 * attempt is in the delivery log with its error class and the next attempt time the schedule gives.
 * In-process dispatcher on the test clock with a short deadline; the long version against the
 * executable is test/bench/fault-receiver.ts.
 */
import { afterEach, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { webhookAttempts, webhookDeliveries } from '../../src/db/schema'
import { DELIVERY_BACKOFF_MS, MIN_WAIT_AFTER_TIMEOUT_OR_429_MS } from '../../src/workers/retry-policy'
import { startFaultyReceiver, type FaultPhase, type FaultyReceiver } from '../bench/fault-receiver'
import { startDispatcherDriver, type DispatcherDriver } from '../dispatcher-driver'
import { createHarness, type Harness } from '../helpers'
import { verifyAt } from '../webhooks-helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const EVENTS = 12
const ATTEMPT_TIMEOUT_MS = 200

let h: Harness
let dispatcher: DispatcherDriver
let rx: FaultyReceiver

afterEach(async () => {
  await dispatcher?.stop()
  rx?.stop()
  h?.close()
})

test('500 → hang → reset → recovery: every event arrives once recovered, every attempt is logged with its class and schedule', async () => {
  h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
  dispatcher = startDispatcherDriver(h.deps, { random: () => 0.5, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS })
  h.deps.wake = () => dispatcher.wake()
  const ws = await h.workspace()
  rx = startFaultyReceiver()
  const created = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: `${rx.url}/hooks`, events: ['lead.created'] } })
  expect(created.status).toBe(201)
  const endpoint = (await created.json()) as { id: string; secret: string }

  // Round 1 (500): the first attempts start as each lead commits.
  rx.phase = 'error'
  const leadIds: string[] = []
  for (let i = 0; i < EVENTS; i++) {
    const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: `fault${i}@example.com` } })
    expect(res.status).toBe(201)
    leadIds.push(((await res.json()) as { id: string }).id)
  }
  const deliveries = () => h.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpoint.id)).all()
  await dispatcher.runDue()
  expect(deliveries().map((d) => [d.status, d.attemptCount])).toEqual(Array(EVENTS).fill(['pending', 1]))

  /** One more round: the receiver behaves as `phase`, the clock moves to the next due time, every delivery gets one attempt. */
  const round = async (phase: FaultPhase) => {
    rx.phase = phase
    const due = Math.max(...deliveries().map((d) => d.nextAttemptAt!))
    h.clock.set(due)
    const started = performance.now()
    expect(await dispatcher.runDue()).toBe(EVENTS)
    return performance.now() - started
  }
  const hangMs = await round('hang')
  await round('reset')
  expect(deliveries().every((d) => d.status === 'pending')).toBe(true)
  await round('ok')

  // Nothing is lost: every delivery succeeded, and each event reached the recovered receiver exactly once.
  const final = deliveries()
  expect(final.every((d) => d.status === 'succeeded' && d.attemptCount === 4)).toBe(true)
  const seen = (phase: FaultPhase) => rx.received.filter((r) => r.phase === phase).map((r) => r.request)
  const eventIds = final.map((d) => d.eventId).sort()
  for (const phase of ['error', 'hang', 'reset', 'ok'] as const)
    expect(
      seen(phase)
        .map((r) => r.headers['webhook-id'])
        .sort(),
    ).toEqual(eventIds)
  for (const request of seen('ok')) {
    const payload = verifyAt(endpoint.secret, request, h.clock.now()) as { id: string; data: { lead: { id: string } } }
    expect(payload.id).toBe(request.headers['webhook-id']!)
  }
  expect(
    seen('ok')
      .map((r) => (JSON.parse(r.body) as { data: { lead: { id: string } } }).data.lead.id)
      .sort(),
  ).toEqual([...leadIds].sort())

  // The hanging round was cut by the deadline, in parallel (10 per endpoint), not one deadline after another.
  expect(hangMs).toBeLessThan(Math.ceil(EVENTS / 10) * ATTEMPT_TIMEOUT_MS + 1_500)

  // The delivery log: classes in order, and next_attempt_at from the schedule (jitter pinned at 0).
  const scheduleWaits = [DELIVERY_BACKOFF_MS[0], Math.max(DELIVERY_BACKOFF_MS[1], MIN_WAIT_AFTER_TIMEOUT_OR_429_MS), DELIVERY_BACKOFF_MS[2]]
  for (const delivery of final) {
    const attempts = h.db
      .select()
      .from(webhookAttempts)
      .where(eq(webhookAttempts.deliveryId, delivery.id))
      .all()
      .sort((a, b) => a.attempt - b.attempt)
    expect(attempts.map((a) => [a.attempt, a.trigger, a.errorClass, a.statusCode])).toEqual([
      [1, 'scheduled', 'http', 500],
      [2, 'scheduled', 'timeout', null],
      [3, 'scheduled', 'connect', null],
      [4, 'scheduled', null, 204],
    ])
    expect(attempts[0]!.responseBody).toBe('receiver is down')
    expect(attempts[1]!.durationMs).toBeGreaterThanOrEqual(ATTEMPT_TIMEOUT_MS - 10)
    expect(attempts.slice(0, 3).map((a) => a.nextAttemptAt! - a.startedAt)).toEqual(scheduleWaits)
    attempts.slice(1).forEach((a, i) => expect(a.startedAt).toBe(attempts[i]!.nextAttemptAt!))
    expect(attempts[3]!.nextAttemptAt).toBeNull()
  }

  // The same log through the API.
  const log = await h.request('GET', `/api/v1/webhooks/${endpoint.id}/deliveries?limit=200`, { key: ws.key })
  const body = (await log.json()) as { data: { status: string; attempts: { error_class: string | null; status_code: number | null }[] }[] }
  expect(body.data).toHaveLength(EVENTS)
  for (const d of body.data) {
    expect(d.status).toBe('succeeded')
    expect(d.attempts.map((a) => a.error_class)).toEqual(['http', 'timeout', 'connect', null])
  }
}, 20_000)
