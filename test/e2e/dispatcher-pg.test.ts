/**
 * The webhook dispatcher on PostgreSQL across nodes: several dispatchers, each with its own pool
 * and lease owner (as separate askad processes would have), on one real database, sending to real
 * receivers on 127.0.0.1. Every delivery is sent and recorded exactly once, with no deadlock; the
 * 10-in-flight cap per endpoint holds across nodes; a stopping node hands its leases back; an
 * expired lease taken over by another node is not overwritten by its old owner; a commit on one
 * node wakes the others through LISTEN/NOTIFY.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { openPg, type PgDb } from '../../src/db/pg/client'
import { writePg } from '../../src/db/pg/unit-of-work'
import type { AppDeps } from '../../src/deps'
import { systemClock } from '../../src/lib/clock'
import { MAX_IN_FLIGHT_PER_ENDPOINT, startDispatcher, type Dispatcher, type DispatcherOptions } from '../../src/workers/dispatcher'
import { dispatchStore } from '../../src/workers/dispatch-store'
import { DELIVERIES_CHANNEL } from '../../src/workers/notify.pg'
import { startDispatcherDriver } from '../dispatcher-driver'
import { createHarness, type Harness } from '../helpers'
import { migratedTestDatabase, skipUnlessPg, type TestDatabase } from '../pg'
import { startReceiver, until, type Receiver } from '../webhooks-helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const SECRET = `whsec_${Buffer.from('cluster-test-secret-0123456789ab').toString('base64')}`
/** Connections per node: a small pool, as several nodes share the server's max_connections. */
const NODE_POOL = 8

let h: Harness | undefined
let database: (TestDatabase & { pg: PgDb }) | undefined
let rx: Receiver | undefined
const pools: PgDb[] = []
const dispatchers: Dispatcher[] = []

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.stop(0)))
  for (const pool of pools.splice(0)) await pool.$client.close()
  rx?.stop()
  await database?.drop()
  h?.close()
  h = database = rx = undefined
})

/** A database with workspace `w1` and `endpoints` endpoints e0… at `url`/e0…, and the harness whose config and logs the nodes share. */
async function setup(endpoints: number, url: string) {
  h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
  database = await migratedTestDatabase()
  const sql = database.pg.$client
  await sql`INSERT INTO workspaces (id, slug, name, created_at) VALUES ('w1', 'one', 'One', 1)`
  for (let i = 0; i < endpoints; i++)
    await sql`INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, created_at, updated_at)
      VALUES (${`e${i}`}, 'w1', ${`${url}/e${i}`}, '[]', ${SECRET}, 1, 1)`
  return sql
}

/** `count` pending deliveries, one event each, spread over the endpoints round-robin, due in insertion order. */
async function queueDeliveries(count: number, endpoints: number) {
  const sql = database!.pg.$client
  const now = Date.now()
  await sql`INSERT INTO events (id, workspace_id, type, payload, created_at)
    SELECT 'ev' || g, 'w1', 'lead.created', '{"n":' || g || '}', ${now} FROM generate_series(1, ${count}) g`
  await sql`INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, next_attempt_at, created_at, updated_at)
    SELECT 'd' || g, 'w1', 'e' || (g % ${endpoints}), 'ev' || g, ${now - count} + g, ${now}, ${now} FROM generate_series(1, ${count}) g`
}

/** A node: its own pool and deps (real clock) on the shared database. */
function node(): AppDeps {
  const pg = openPg(database!.url, { max: NODE_POOL })
  pools.push(pg)
  return { ...h!.deps, clock: systemClock, pg }
}

function startNode(options: DispatcherOptions = {}): Dispatcher {
  const dispatcher = startDispatcher(node(), options)
  dispatchers.push(dispatcher)
  return dispatcher
}

async function counts() {
  const [row] = await database!.pg.$client`
    SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded, count(*) FILTER (WHERE status = 'pending')::int AS pending,
      (SELECT count(*)::int FROM webhook_attempts) AS attempts, max(attempt_count)::int AS max_attempts
    FROM webhook_deliveries`
  return row as { succeeded: number; pending: number; attempts: number; max_attempts: number }
}

async function waitForSucceeded(total: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const { succeeded } = await counts()
    if (succeeded === total) return
    if (performance.now() > deadline) throw new Error(`${succeeded} of ${total} deliveries succeeded in ${timeoutMs} ms`)
    await Bun.sleep(100)
  }
}

function errorLogs(): string[] {
  return h!.logs.filter((line) => /"level":"error"|deadlock/i.test(line))
}

describe.skipIf(skipUnlessPg('dispatcher across PostgreSQL nodes'))('dispatcher on PostgreSQL, several nodes', () => {
  test('3 nodes on 20,000 due deliveries: each sent and recorded exactly once, no deadlock', async () => {
    const DELIVERIES = 20_000
    const ENDPOINTS = 4
    rx = startReceiver()
    await setup(ENDPOINTS, rx.url)
    await queueDeliveries(DELIVERIES, ENDPOINTS)
    const started = performance.now()
    for (let i = 0; i < 3; i++) startNode()
    await waitForSucceeded(DELIVERIES, 240_000)
    const seconds = (performance.now() - started) / 1000
    console.log(`3 nodes: ${DELIVERIES} deliveries in ${seconds.toFixed(1)} s (${Math.round(DELIVERIES / seconds)}/s)`)

    expect(await counts()).toEqual({ succeeded: DELIVERIES, pending: 0, attempts: DELIVERIES, max_attempts: 1 })
    expect(rx.requests).toHaveLength(DELIVERIES)
    expect(new Set(rx.requests.map((r) => r.headers['webhook-id'])).size).toBe(DELIVERIES)
    expect(errorLogs()).toEqual([])
    const [{ deadlocks }] = await database!.pg.$client`SELECT deadlocks::int AS deadlocks FROM pg_stat_database WHERE datname = current_database()`
    expect(deadlocks).toBe(0)
  }, 300_000)

  test('a slow receiver never has more than 10 requests in flight from 3 nodes', async () => {
    const DELIVERIES = 120
    rx = startReceiver(async () => {
      await Bun.sleep(60)
      return new Response(null, { status: 204 })
    })
    await setup(1, rx.url)
    await queueDeliveries(DELIVERIES, 1)
    for (let i = 0; i < 3; i++) startNode()
    await waitForSucceeded(DELIVERIES, 60_000)
    expect(rx.peakOpen()).toBeLessThanOrEqual(MAX_IN_FLIGHT_PER_ENDPOINT)
    // The cap is reached, not merely respected by a trickle.
    expect(rx.peakOpen()).toBeGreaterThanOrEqual(MAX_IN_FLIGHT_PER_ENDPOINT - 2)
    expect((await counts()).attempts).toBe(DELIVERIES)
  }, 90_000)

  test('a node stopped mid-run hands its leases back at once and another node finishes its work', async () => {
    const DELIVERIES = 200
    rx = startReceiver(async () => {
      await Bun.sleep(100)
      return new Response(null, { status: 204 })
    })
    await setup(2, rx.url)
    await queueDeliveries(DELIVERIES, 2)
    const owner = 'node-a:1:stopping'
    const a = startNode({ owner })
    const b = startNode({ owner: 'node-b:1:staying' })
    await until(() => rx!.requests.length >= 30, 20_000, 'the first requests')
    await a.stop(0)
    const [{ held }] = await database!.pg.$client`SELECT count(*)::int AS held FROM webhook_deliveries WHERE lease_owner = ${owner}`
    expect(held).toBe(0)
    // Far sooner than the 60 s lease: nothing waits for the stopped node's leases to expire.
    await waitForSucceeded(DELIVERIES, 30_000)
    expect(b.state().last_error).toBeNull()
    const { attempts, max_attempts } = await counts()
    expect(attempts).toBe(DELIVERIES)
    expect(max_attempts).toBe(1)
  }, 60_000)

  test('an expired lease taken over by another node is not overwritten by its old owner', async () => {
    rx = startReceiver()
    await setup(1, rx.url)
    await queueDeliveries(1, 1)
    const deps = { ...h!.deps, pg: database!.pg }
    const limits = { leaseMs: 1_000, maxInFlight: 10 }
    const old = dispatchStore(deps, { ...limits, owner: 'node-old:1:a' }, () => 0.5)
    const taker = dispatchStore(deps, { ...limits, owner: 'node-new:1:b' }, () => 0.5)
    h!.clock.set(Date.now() + 60_000)
    const [job] = await old.claim(1)
    expect(job?.id).toBe('d1')
    h!.clock.advance(limits.leaseMs + 1)
    const [again] = await taker.claim(1)
    expect(again?.id).toBe('d1')

    const outcome = { statusCode: 200, errorClass: null, errorMessage: null, responseBody: '', retryAfterMs: null, durationMs: 5 }
    await old.record({ deliveryId: 'd1', endpointId: 'e0', claimed: { attempt_count: 0, manual: 0 }, startedAt: h!.clock.now() - 2_000, outcome })
    const [row] = await database!.pg.$client`SELECT status, attempt_count, lease_owner FROM webhook_deliveries WHERE id = 'd1'`
    expect(row).toEqual({ status: 'pending', attempt_count: 0, lease_owner: 'node-new:1:b' })
    expect(h!.logs.some((line) => line.includes('webhook.lease_lost'))).toBe(true)

    await taker.record({ deliveryId: 'd1', endpointId: 'e0', claimed: { attempt_count: 0, manual: 0 }, startedAt: h!.clock.now(), outcome })
    expect(await counts()).toEqual({ succeeded: 1, pending: 0, attempts: 1, max_attempts: 1 })
    await old.close()
    await taker.close()
  })

  test('a claim passes over a delivery another transaction holds instead of waiting for it', async () => {
    await setup(1, 'http://127.0.0.1:9')
    await queueDeliveries(3, 1)
    const holder = await database!.pg.$client.reserve()
    try {
      await holder`BEGIN`
      await holder`SELECT id FROM webhook_deliveries WHERE id = 'd1' FOR UPDATE`
      const store = dispatchStore({ ...h!.deps, clock: systemClock, pg: database!.pg }, { owner: 'node-a:1:a', leaseMs: 60_000, maxInFlight: 10 }, () => 0.5)
      const claimed = await Promise.race([store.claim(10), Bun.sleep(3_000).then(() => 'still waiting' as const)])
      expect(claimed === 'still waiting' ? claimed : claimed.map((job) => job.id)).toEqual(['d2', 'd3'])
      await holder`ROLLBACK`
      await store.close()
    } finally {
      holder.release()
    }
  })

  test("the tests' dispatcher driver waits for claims that wait for the database: runDue sends everything due", async () => {
    rx = startReceiver()
    await setup(2, rx.url)
    const driver = startDispatcherDriver(node())
    dispatchers.push(driver)
    await Bun.sleep(300)
    await queueDeliveries(30, 2)
    expect(await driver.runDue()).toBe(30)
    expect((await counts()).succeeded).toBe(30)
  })

  test('a commit on one node wakes an idle node at once, and a burst of wake-ups sends one notification', async () => {
    rx = startReceiver()
    await setup(1, rx.url)
    // The writing node has no free slot, so only the other node can send; idle, that one would sleep for 30 s.
    const writer = node()
    const busy = startDispatcher(writer, { maxInFlight: 0 })
    dispatchers.push(busy)
    startNode()
    await Bun.sleep(300)

    const notifications: string[] = []
    const listener = await database!.pg.$client.listen(DELIVERIES_CHANNEL, (payload) => notifications.push(payload))
    const wrote = await writePg({ pg: writer.pg!, wake: () => busy.wake() }, (_tx, emit) => emit('w1', 'lead.created', { n: 1 }, Date.now()))
    const committed = performance.now()
    await until(() => rx!.requests.length === 1, 5_000, 'the delivery')
    const latencyMs = rx.requests[0]!.at - committed
    console.log(`commit on one node → request from the other: ${latencyMs.toFixed(1)} ms`)
    expect(rx.requests[0]!.headers['webhook-id']).toBe(wrote)
    expect(latencyMs).toBeLessThan(1_000)

    await until(() => notifications.length === 1, 2_000, 'the notification')
    for (let i = 0; i < 200; i++) busy.wake()
    await Bun.sleep(200)
    expect(notifications.length).toBeLessThanOrEqual(3)
    await listener.unlisten()
  })
})
