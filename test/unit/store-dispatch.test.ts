/**
 * The dispatcher's storage seam (workers/dispatch-store.ts), the same test bodies on both engines:
 * claiming (oldest due first, leases with owner and expiry, the per-endpoint cap across claimers),
 * recording (success, retry, 410), releasing, freeing a dead process's leases, and when to look again.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { hostname } from 'node:os'
import type { AppDeps } from '../../src/deps'
import { DISABLED_GONE } from '../../src/workers/decide'
import { dispatchStore, type ClaimedJob, type DispatchStore } from '../../src/workers/dispatch-store'
import type { AttemptOutcome } from '../../src/workers/send-attempt'
import { retryDelayMs } from '../../src/workers/retry-policy'
import { createHarness } from '../helpers'
import { migratedTestDatabase, skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const LEASE_MS = 60_000
/** The cap of the endpoints seeded below: the column default of `max_in_flight`. */
const PER_ENDPOINT = 10
const SECRET = `whsec_${Buffer.from('contract-test-secret-0123456789').toString('base64')}`

/** One engine under test: the deps a dispatcher gets, and raw SQL for seeding and checking. */
interface Engine {
  deps: AppDeps
  now: number
  run(sql: string): Promise<void>
  all<T>(sql: string): Promise<T[]>
  close(): Promise<void>
}

async function openEngine(engine: 'sqlite' | 'postgres'): Promise<Engine> {
  const h = createHarness()
  const now = h.clock.now()
  if (engine === 'sqlite') {
    return {
      deps: h.deps,
      now,
      run: async (sql) => void h.db.$client.run(sql),
      all: async <T>(sql: string) => h.db.$client.query(sql).all() as T[],
      close: async () => h.close(),
    }
  }
  const database = await migratedTestDatabase()
  return {
    deps: { ...h.deps, pg: database.pg },
    now,
    run: async (sql) => void (await database.pg.$client.unsafe(sql)),
    all: async <T>(sql: string) => [...(await database.pg.$client.unsafe(sql))] as T[],
    async close() {
      await database.drop()
      h.close()
    },
  }
}

const ok: AttemptOutcome = { statusCode: 200, errorClass: null, errorMessage: null, responseBody: 'ok', retryAfterMs: null, durationMs: 3 }
const serverError: AttemptOutcome = { statusCode: 500, errorClass: 'http', errorMessage: 'HTTP 500', responseBody: 'down', retryAfterMs: null, durationMs: 4 }
const gone: AttemptOutcome = { statusCode: 410, errorClass: 'http', errorMessage: 'HTTP 410', responseBody: 'gone', retryAfterMs: null, durationMs: 2 }

for (const engine of ['sqlite', 'postgres'] as const) {
  describe.skipIf(engine === 'postgres' && skipUnlessPg('dispatcher store contract on PostgreSQL'))(engine, () => {
    let db: Engine
    const stores: DispatchStore[] = []

    afterEach(async () => {
      for (const store of stores.splice(0)) await store.close()
      await db?.close()
    })

    function store(owner: string): DispatchStore {
      const created = dispatchStore(db.deps, { owner, leaseMs: LEASE_MS, maxInFlight: 50 }, () => 0.5)
      stores.push(created)
      return created
    }

    /** A workspace with endpoint `e1` (and `e2`), and one event per delivery: [id, next_attempt_at offset from now, lease]. */
    async function seed(deliveries: { id: string; due: number; endpoint?: string; leaseOwner?: string; leaseUntil?: number }[]) {
      db = await openEngine(engine)
      const t = db.now
      await db.run(`INSERT INTO workspaces (id, slug, name, created_at) VALUES ('w1', 'one', 'One', ${t})`)
      for (const e of ['e1', 'e2'])
        await db.run(`INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, created_at, updated_at)
          VALUES ('${e}', 'w1', 'http://127.0.0.1:9/${e}', '[]', '${SECRET}', ${t}, ${t})`)
      for (const d of deliveries) {
        await db.run(
          `INSERT INTO events (id, workspace_id, type, payload, created_at) VALUES ('ev-${d.id}', 'w1', 'lead.created', '{"id":"ev-${d.id}"}', ${t})`,
        )
        await db.run(`INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, next_attempt_at, lease_owner, lease_until, created_at, updated_at)
          VALUES ('${d.id}', 'w1', '${d.endpoint ?? 'e1'}', 'ev-${d.id}', ${t + d.due}, ${d.leaseOwner ? `'${d.leaseOwner}'` : 'NULL'}, ${d.leaseUntil ? t + d.leaseUntil : 'NULL'}, ${t}, ${t})`)
      }
    }

    async function delivery(id: string) {
      const [row] = await db.all<Record<string, unknown>>(
        `SELECT status, attempt_count, next_attempt_at, lease_owner, lease_until FROM webhook_deliveries WHERE id = '${id}'`,
      )
      return {
        status: row!.status,
        attempt_count: Number(row!.attempt_count),
        next_attempt_at: row!.next_attempt_at == null ? null : Number(row!.next_attempt_at),
        lease_owner: row!.lease_owner,
        lease_until: row!.lease_until == null ? null : Number(row!.lease_until),
      }
    }

    async function endpoint(id: string) {
      const [row] = await db.all<Record<string, unknown>>(
        `SELECT enabled, disabled_reason, failing_since, last_success_at FROM webhook_endpoints WHERE id = '${id}'`,
      )
      const number = (value: unknown) => (value == null ? null : Number(value))
      return {
        enabled: Boolean(row!.enabled),
        disabled_reason: row!.disabled_reason,
        failing_since: number(row!.failing_since),
        last_success_at: number(row!.last_success_at),
      }
    }

    const record = (s: DispatchStore, job: ClaimedJob, outcome: AttemptOutcome) =>
      s.record({ deliveryId: job.id, endpointId: job.endpoint_id, claimed: job, startedAt: db.now - outcome.durationMs, outcome })

    test('claims due, unleased deliveries oldest first, under its owner, with what the attempt needs', async () => {
      await seed([
        { id: 'd2', due: -1_000 },
        { id: 'd1', due: -2_000 },
        { id: 'later', due: 60_000 },
        { id: 'held', due: -5_000, leaseOwner: 'elsewhere:1:x', leaseUntil: 30_000 },
      ])
      const a = store('node-a:1:a')
      const jobs = await a.claim(10)
      expect(jobs.map((j) => j.id)).toEqual(['d1', 'd2'])
      expect(jobs[0]).toEqual({
        id: 'd1',
        workspace_id: 'w1',
        endpoint_id: 'e1',
        event_id: 'ev-d1',
        attempt_count: 0,
        manual: 0,
        payload: '{"id":"ev-d1"}',
        url: 'http://127.0.0.1:9/e1',
        secret: SECRET,
        previous_secret: null,
        previous_secret_expires_at: null,
        headers: '{}',
        unproven: 1,
      })
      expect(await delivery('d1')).toMatchObject({ lease_owner: 'node-a:1:a', lease_until: db.now + LEASE_MS })
      expect(await a.claim(10)).toEqual([])
      expect(await a.nextWake(db.now)).toEqual({ next: db.now + 30_000, blocked: false })
    })

    test('a success settles the delivery and marks the endpoint healthy; a 500 schedules a retry; a 410 disables the endpoint', async () => {
      await seed([
        { id: 'd1', due: -3_000 },
        { id: 'd2', due: -2_000 },
        { id: 'd3', due: -1_000 },
      ])
      const a = store('node-a:1:a')
      const [d1, d2, d3] = await a.claim(10)
      await record(a, d1!, ok)
      expect(await delivery('d1')).toEqual({ status: 'succeeded', attempt_count: 1, next_attempt_at: null, lease_owner: null, lease_until: null })
      expect(await endpoint('e1')).toEqual({ enabled: true, disabled_reason: null, failing_since: null, last_success_at: db.now })
      const attempts = await db.all<Record<string, unknown>>(
        `SELECT attempt, trigger, status_code, response_body, duration_ms FROM webhook_attempts WHERE delivery_id = 'd1'`,
      )
      expect(
        attempts.map(
          (r): Record<string, unknown> => ({ ...r, attempt: Number(r.attempt), status_code: Number(r.status_code), duration_ms: Number(r.duration_ms) }),
        ),
      ).toEqual([{ attempt: 1, trigger: 'scheduled', status_code: 200, response_body: 'ok', duration_ms: 3 }])

      await record(a, d2!, serverError)
      const retryAt = db.now + retryDelayMs(1, { statusCode: 500, timedOut: false, retryAfterMs: null }, () => 0.5)!
      expect(await delivery('d2')).toEqual({ status: 'pending', attempt_count: 1, next_attempt_at: retryAt, lease_owner: null, lease_until: null })
      expect((await endpoint('e1')).failing_since).toBe(db.now - serverError.durationMs)
      expect(await a.nextWake(db.now)).toEqual({ next: retryAt, blocked: false })

      await record(a, d3!, gone)
      expect(await delivery('d3')).toMatchObject({ status: 'failed', attempt_count: 1, next_attempt_at: null, lease_owner: null })
      expect(await endpoint('e1')).toMatchObject({ enabled: false, disabled_reason: DISABLED_GONE })
      // A disabled endpoint's pending deliveries are neither claimed nor waited for.
      expect(await a.claim(10)).toEqual([])
      expect(await a.nextWake(db.now)).toEqual({ next: null, blocked: false })
    })

    test('attempts that finish together are all written, a body with a NUL byte included', async () => {
      await seed(Array.from({ length: 6 }, (_, i) => ({ id: `d${i}`, due: -1_000 + i, endpoint: i % 2 ? 'e2' : 'e1' })))
      const a = store('node-a:1:a')
      const jobs = await a.claim(10)
      expect(jobs).toHaveLength(6)
      await Promise.all(jobs.map((job, i) => record(a, job, i === 0 ? { ...ok, responseBody: 'a\0b' } : ok)))
      const [{ n }] = await db.all<{ n: number }>(`SELECT CAST(count(*) AS integer) AS n FROM webhook_deliveries WHERE status = 'succeeded'`)
      expect(Number(n)).toBe(6)
      const [{ body }] = await db.all<{ body: string }>(`SELECT response_body AS body FROM webhook_attempts WHERE delivery_id = 'd0'`)
      expect(body.startsWith('a') && body.endsWith('b') && body.length === 3).toBe(true)
    })

    test('an endpoint never has more than its cap leased, whoever claims; a slot freed is claimable again', async () => {
      await seed(Array.from({ length: 15 }, (_, i) => ({ id: `d${String(i).padStart(2, '0')}`, due: -1_000 + i })))
      const a = store('node-a:1:a')
      const b = store('node-b:1:b')
      const claimedByA = await a.claim(50)
      expect(claimedByA).toHaveLength(PER_ENDPOINT)
      expect(await b.claim(50)).toEqual([])
      // Due but held back by another claimer's leases: look again soon, not at the next lease expiry.
      expect((await b.nextWake(db.now)).blocked).toBe(true)
      await record(a, claimedByA[0]!, ok)
      a.finished(claimedByA[0]!)
      expect((await b.claim(50)).map((j) => j.id)).toEqual(['d10'])
    })

    test('release frees only its own lease; the leases of a dead process of this host are freed, a live one on another host stays', async () => {
      const dead = Bun.spawnSync(['true']).pid
      await seed([
        { id: 'mine', due: -1_000 },
        { id: 'dead', due: -1_000, leaseOwner: `${hostname()}:${dead}:gone`, leaseUntil: 30_000 },
        { id: 'remote', due: -1_000, leaseOwner: 'another-host:1:x', leaseUntil: 30_000 },
      ])
      const a = store(`${hostname()}:${process.pid}:a`)
      const b = store('node-b:1:b')
      const [job] = await a.claim(10)
      expect(job!.id).toBe('mine')
      await b.release(job!)
      expect((await delivery('mine')).lease_owner).toBe(`${hostname()}:${process.pid}:a`)
      await a.release(job!)
      expect(await delivery('mine')).toMatchObject({ lease_owner: null, lease_until: null })

      await a.releaseDeadLeases()
      expect(await delivery('dead')).toMatchObject({ lease_owner: null, lease_until: null })
      expect((await delivery('remote')).lease_owner).toBe('another-host:1:x')
    })
  })
}
