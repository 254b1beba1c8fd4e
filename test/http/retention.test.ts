/**
 * Retention, driven by the test clock: settled webhook history older than ASKAD_RETENTION_DAYS goes
 * (events, deliveries, attempts, response bodies), pending deliveries and everything recent stay,
 * expired idempotency keys and sessions go, leads and contacts are never touched.
 */
import { afterEach, expect, test } from 'bun:test'
import { loadConfig } from '../../src/config'
import type { EventType } from '../../src/db/outbox'
import { signIn } from '../../src/modules/sessions/service'
import { startRetention, type Retention } from '../../src/workers/retention'
import { startDispatcherDriver, type DispatcherDriver } from '../dispatcher-driver'
import { createHarness, type Harness } from '../helpers'
import { startReceiver, type Receiver } from '../webhooks-helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const DAY_MS = 24 * 60 * 60 * 1000

let h: Harness
let dispatcher: DispatcherDriver | undefined
let retention: Retention | undefined
let rx: Receiver | undefined

afterEach(async () => {
  await retention?.stop()
  await dispatcher?.stop()
  rx?.stop()
  h?.close()
})

async function setup(retentionDays: string) {
  h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ASKAD_RETENTION_DAYS: retentionDays } })
  const ws = await h.workspace()
  // /ok answers 204, /fail 500 (its delivery stays pending, retried), /gone 410 (its delivery fails for good).
  rx = startReceiver(
    (req) => new Response(req.path === '/gone' ? 'gone for good' : 'seen', { status: req.path === '/ok' ? 200 : req.path === '/fail' ? 500 : 410 }),
  )
  dispatcher = startDispatcherDriver(h.deps, { random: () => 0.5 })
  h.deps.wake = () => dispatcher!.wake()
  retention = startRetention(h.deps)
  return ws
}

async function endpoint(key: string, path: string, events: EventType[]) {
  const res = await h.request('POST', '/api/v1/webhooks', { key, body: { url: `${rx!.url}${path}`, events } })
  expect(res.status).toBe(201)
}

async function send(key: string, path: string, body: Record<string, unknown>) {
  const res = await h.request('POST', path, { key, body })
  expect(res.status).toBeLessThan(300)
  return (await res.json()) as { id: string }
}

/** The id of the newest event of a type (event ids are time-ordered). */
async function newestEvent(type: EventType): Promise<string> {
  return (await h.rows.all('events', { type }))
    .map((e) => e.id)
    .sort()
    .at(-1)!
}

/** Makes one `deal.closed` event the way a client does: a deal created as lost. */
async function closeDeal(key: string): Promise<string> {
  await send(key, '/api/v1/deals', { title: 'Closed', stage: 'lost' })
  return newestEvent('deal.closed')
}

test('old settled history goes; pending deliveries, recent history, leads and contacts stay', async () => {
  const ws = await setup('1')
  await endpoint(ws.key, '/fail', ['deal.closed'])
  await endpoint(ws.key, '/ok', ['lead.created'])
  await endpoint(ws.key, '/gone', ['lead.converted'])

  // Day 0: the oldest event's delivery keeps failing, so it heads the table and must not stop the pruning behind it.
  const pendingEvent = await closeDeal(ws.key)
  const old = []
  for (let i = 0; i < 3; i++) old.push(await h.pushLead(ws.key, { email: `old-${i}@example.com` }))
  await send(ws.key, `/api/v1/leads/${old[0]!.id}/convert`, {})
  const goneEvent = await newestEvent('lead.converted')
  // No endpoint takes spend thresholds: an event without deliveries.
  const campaign = await send(ws.key, '/api/v1/campaigns', { name: 'Lonely', currency: 'USD', spend_thresholds: [1] })
  await send(ws.key, `/api/v1/campaigns/${campaign.id}/spend`, { amount: 1 })
  const lonelyEvent = await newestEvent('campaign.spend_threshold')
  const idem = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'idem@example.com' }, headers: { 'idempotency-key': 'k-1' } })
  expect(idem.status).toBe(201)
  expect('token' in (await signIn(h.deps, ws.key))).toBe(true)
  await dispatcher!.runDue()
  expect(await h.rows.count('webhookAttempts')).toBe(6)

  // A day and a minute later: the day-0 history is past retention; one new lead is not.
  h.clock.advance(DAY_MS + 60_000)
  await dispatcher!.runDue()
  const recent = await h.pushLead(ws.key, { email: 'new@example.com' })
  await dispatcher!.runDue()
  const contactsBefore = await (await h.request('GET', '/api/v1/contacts?limit=100', { key: ws.key })).json()
  const leadsBefore = await (await h.request('GET', '/api/v1/leads?limit=100', { key: ws.key })).json()

  expect(await retention!.runOnce()).toEqual({ events: 6, idempotencyKeys: 1, sessions: 1 })

  const events = (await h.rows.all('events')).sort((a, b) => (a.id < b.id ? -1 : 1))
  expect(events.map((e) => e.type)).toEqual(['deal.closed', 'lead.created'])
  expect(events[0]!.id).toBe(pendingEvent)
  expect(events.map((e) => e.id)).not.toContain(goneEvent)
  expect(events.map((e) => e.id)).not.toContain(lonelyEvent)
  const deliveries = (await h.rows.all('webhookDeliveries')).sort((a, b) => a.createdAt - b.createdAt)
  expect(deliveries.map(({ status, attemptCount }) => ({ status, attemptCount }))).toEqual([
    { status: 'pending', attemptCount: 2 },
    { status: 'succeeded', attemptCount: 1 },
  ])
  // The pending delivery keeps its two attempts; the recent one its one. Nothing else is left, response bodies included.
  expect(await h.rows.count('webhookAttempts')).toBe(3)
  expect(await h.rows.count('idempotencyKeys')).toBe(0)
  expect(await h.rows.count('sessions')).toBe(0)

  // Leads and contacts, with their totals and pages, are exactly as before.
  expect(await (await h.request('GET', '/api/v1/contacts?limit=100', { key: ws.key })).json()).toEqual(contactsBefore)
  expect(await (await h.request('GET', '/api/v1/leads?limit=100', { key: ws.key })).json()).toEqual(leadsBefore)
  expect(await h.rows.count('leads')).toBe(5)
  expect(leadsBefore.data.map((l: { id: string }) => l.id)).toContain(recent.id)

  // A second pass finds nothing more.
  expect(await retention!.runOnce()).toEqual({ events: 0, idempotencyKeys: 0, sessions: 0 })
})

test('a fractional retention, in batches: everything past it goes over many small transactions, nothing newer', async () => {
  const ws = await setup('0.5')
  await retention!.stop()
  retention = startRetention(h.deps, { batchEvents: 7, batchRows: 3 })
  const OLD = 50
  for (let i = 0; i < OLD; i++) await closeDeal(ws.key)
  for (let i = 0; i < 10; i++) await signIn(h.deps, ws.key)
  h.clock.advance(DAY_MS / 2 + 1)
  for (let i = 0; i < 5; i++) await closeDeal(ws.key)

  expect(await retention!.runOnce()).toEqual({ events: OLD, idempotencyKeys: 0, sessions: 10 })
  expect(await h.rows.count('events')).toBe(5)
})

test('ASKAD_RETENTION_DAYS: 30 by default, fractions allowed, a flag beats the variable, 0 or text refused', () => {
  expect(loadConfig({}, {}).retentionDays).toBe(30)
  expect(loadConfig({}, { ASKAD_RETENTION_DAYS: '0.25' }).retentionDays).toBe(0.25)
  expect(loadConfig({ 'retention-days': '7' }, { ASKAD_RETENTION_DAYS: '0.25' }).retentionDays).toBe(7)
  for (const bad of ['0', '-1', 'forever']) expect(() => loadConfig({}, { ASKAD_RETENTION_DAYS: bad })).toThrow(/retention/)
})
