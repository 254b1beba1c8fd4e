/**
 * The retention worker on both engines, the same test bodies: settled webhook history past the
 * retention goes in bounded batches (events with their deliveries and attempts), an old event with
 * a pending delivery and recent history stay, expired idempotency keys and sessions go.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import type { AppDeps } from '../../src/deps'
import { startRetention, type Retention } from '../../src/workers/retention'
import { createHarness } from '../helpers'
import { migratedTestDatabase, skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const DAY_MS = 24 * 60 * 60 * 1000

/** One engine under test: the deps the worker gets, and raw SQL for seeding and counting. */
interface Engine {
  deps: AppDeps
  now: number
  run(sql: string): Promise<void>
  count(table: string, where?: string): Promise<number>
  close(): Promise<void>
}

async function openEngine(engine: 'sqlite' | 'postgres'): Promise<Engine> {
  const h = createHarness({ env: { ASKAD_RETENTION_DAYS: '1' } })
  const now = h.clock.now()
  if (engine === 'sqlite') {
    return {
      deps: h.deps,
      now,
      run: async (sql) => void h.db.$client.run(sql),
      count: async (table, where = 'true') => (h.db.$client.query(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get() as { n: number }).n,
      close: async () => h.close(),
    }
  }
  const database = await migratedTestDatabase()
  return {
    deps: { ...h.deps, pg: database.pg },
    now,
    run: async (sql) => void (await database.pg.$client.unsafe(sql)),
    count: async (table, where = 'true') => Number((await database.pg.$client.unsafe(`SELECT count(*) AS n FROM ${table} WHERE ${where}`))[0].n),
    async close() {
      await database.drop()
      h.close()
    },
  }
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe.skipIf(engine === 'postgres' && skipUnlessPg('retention contract on PostgreSQL'))(engine, () => {
    let db: Engine
    let retention: Retention | undefined

    afterEach(async () => {
      await retention?.stop()
      await db?.close()
    })

    /** An event created `age` ms ago (ids in insertion order), with one delivery per given status and an attempt for each settled one. */
    async function event(id: string, age: number, deliveries: ('pending' | 'succeeded' | 'failed')[]) {
      const t = db.now - age
      await db.run(`INSERT INTO events (id, workspace_id, type, payload, created_at) VALUES ('${id}', 'w1', 'lead.created', '{}', ${t})`)
      for (const [i, status] of deliveries.entries()) {
        const delivery = `${id}-d${i}`
        await db.run(`INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, status, next_attempt_at, created_at, updated_at)
          VALUES ('${delivery}', 'w1', 'e${i}', '${id}', '${status}', ${t}, ${t}, ${t})`)
        if (status !== 'pending')
          await db.run(`INSERT INTO webhook_attempts (id, delivery_id, attempt, trigger, started_at, duration_ms, status_code, response_body)
            VALUES ('${delivery}-a1', '${delivery}', 1, 'scheduled', ${t}, 5, 200, 'a stored body')`)
      }
    }

    test('old settled history goes in batches; pending and recent history stay; expired keys and sessions go', async () => {
      db = await openEngine(engine)
      const t = db.now
      await db.run(`INSERT INTO workspaces (id, slug, name, created_at) VALUES ('w1', 'one', 'One', ${t})`)
      for (const e of ['e0', 'e1'])
        await db.run(`INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, created_at, updated_at)
          VALUES ('${e}', 'w1', 'http://127.0.0.1:9/', '[]', 's', ${t}, ${t})`)
      await db.run(`INSERT INTO api_keys (id, workspace_id, kind, name, prefix, hash, scopes, created_at)
        VALUES ('k1', 'w1', 'secret', 'k', 'ak_', 'h1', '[]', ${t})`)

      // Past the 1-day retention: a pending delivery keeps its event (and heads the table: it must not stop the walk).
      await event('msg_01', 2 * DAY_MS, ['pending', 'succeeded'])
      for (let i = 2; i <= 6; i++) await event(`msg_0${i}`, 2 * DAY_MS - i, ['succeeded', 'failed'])
      await event('msg_07', 2 * DAY_MS, [])
      await event('msg_08', DAY_MS / 2, ['succeeded'])
      for (let i = 0; i < 5; i++)
        await db.run(`INSERT INTO idempotency_keys (api_key_id, key, request_hash, state, created_at, expires_at)
          VALUES ('k1', 'old-${i}', 'h', 'done', ${t - DAY_MS}, ${t - 1})`)
      await db.run(
        `INSERT INTO idempotency_keys (api_key_id, key, request_hash, state, created_at, expires_at) VALUES ('k1', 'live', 'h', 'done', ${t}, ${t + DAY_MS})`,
      )
      for (let i = 0; i < 3; i++)
        await db.run(
          `INSERT INTO sessions (hash, workspace_id, api_key_id, csrf_token, created_at, expires_at) VALUES ('old-${i}', 'w1', 'k1', 'c', ${t - DAY_MS}, ${t})`,
        )
      await db.run(`INSERT INTO sessions (hash, workspace_id, api_key_id, csrf_token, created_at, expires_at) VALUES ('live', 'w1', 'k1', 'c', ${t}, ${t + 1})`)

      retention = startRetention(db.deps, { batchEvents: 2, batchRows: 2 })
      expect(await retention.runOnce()).toEqual({ events: 6, idempotencyKeys: 5, sessions: 3 })
      expect(await db.count('events')).toBe(2)
      expect(await db.count('events', `id IN ('msg_01', 'msg_08')`)).toBe(2)
      expect(await db.count('webhook_deliveries')).toBe(3)
      expect(await db.count('webhook_attempts')).toBe(2)
      expect(await db.count('idempotency_keys')).toBe(1)
      expect(await db.count('sessions')).toBe(1)
      expect(await retention.runOnce()).toEqual({ events: 0, idempotencyKeys: 0, sessions: 0 })
    })
  })
}

describe.skipIf(skipUnlessPg('retention on PostgreSQL under concurrent writes'))('postgres, with other nodes writing', () => {
  test('a settled delivery retried by another node while its old event is pruned keeps the event', async () => {
    const db = await openEngine('postgres')
    const sql = db.deps.pg!.$client
    const t = db.now - 2 * DAY_MS
    await sql`INSERT INTO workspaces (id, slug, name, created_at) VALUES ('w1', 'one', 'One', ${t})`
    await sql`INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, created_at, updated_at) VALUES ('e0', 'w1', 'http://127.0.0.1:9/', '[]', 's', ${t}, ${t})`
    await sql`INSERT INTO events (id, workspace_id, type, payload, created_at) VALUES ('msg_01', 'w1', 'lead.created', '{}', ${t})`
    await sql`INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, status, created_at, updated_at) VALUES ('d1', 'w1', 'e0', 'msg_01', 'failed', ${t}, ${t})`
    const retry = await sql.reserve()
    const retention = startRetention(db.deps)
    try {
      await retry`BEGIN`
      await retry`UPDATE webhook_deliveries SET status = 'pending', manual = true, next_attempt_at = ${db.now} WHERE id = 'd1'`
      const pass = retention.runOnce()
      await Bun.sleep(200)
      await retry`COMMIT`
      expect((await pass).events).toBe(0)
      expect(await db.count('webhook_deliveries', `id = 'd1' AND status = 'pending'`)).toBe(1)
    } finally {
      retry.release()
      await retention.stop()
      await db.close()
    }
  })
})
