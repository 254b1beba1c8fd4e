/** The PostgreSQL engine's primitives on a real server: migrations, the unit of work, counters and locks under concurrency. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migratePg, openPg, type PgDb } from '../../src/db/pg/client'
import { embeddedMigrations } from '../../src/db/pg/migrations.gen'
import { lockKeys, nextSeqs, readCounterPg, writePg } from '../../src/db/pg/unit-of-work'
import { migratedTestDatabase, skipUnlessPg, testDatabase } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const skip = skipUnlessPg('PostgreSQL engine tests')

describe.skipIf(skip)('migrations', () => {
  test('three nodes migrating an empty database at once all succeed, and the set is applied once', async () => {
    const database = await testDatabase()
    const nodes = [openPg(database.url), openPg(database.url), openPg(database.url)]
    try {
      const results = await Promise.allSettled(nodes.map((node) => migratePg(node)))
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled'])
      await migratePg(nodes[0]!)
      const [{ n }] = await nodes[0]!.$client`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`
      expect(n).toBe(embeddedMigrations.length)
      const tables = await nodes[0]!.$client`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`
      expect(tables.map((t: { table_name: string }) => t.table_name)).toContain('webhook_deliveries')
    } finally {
      for (const node of nodes) await node.$client.close()
      await database.drop()
    }
  })
})

describe.skipIf(skip)('unit of work', () => {
  let pg: PgDb
  let drop: () => Promise<void>

  beforeAll(async () => {
    const database = await migratedTestDatabase()
    pg = database.pg
    drop = database.drop
    await pg.$client`INSERT INTO workspaces (id, slug, name, created_at) VALUES ('w1', 'one', 'One', 1), ('w2', 'two', 'Two', 1)`
    await pg.$client`INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, created_at, updated_at) VALUES
      ('all', 'w1', 'http://127.0.0.1:1/a', '[]', 's', 1, 1),
      ('deals', 'w1', 'http://127.0.0.1:1/b', '["deal.closed"]', 's', 1, 1),
      ('off', 'w1', 'http://127.0.0.1:1/c', '[]', 's', 1, 1),
      ('other', 'w2', 'http://127.0.0.1:1/d', '[]', 's', 1, 1)`
    await pg.$client`UPDATE webhook_endpoints SET enabled = false WHERE id = 'off'`
  })
  afterAll(() => drop?.())

  test('an event is queued for the enabled endpoints of its workspace that subscribe to it, and wakes the dispatcher after the commit', async () => {
    let woken = 0
    const eventId = await writePg({ pg, wake: () => woken++ }, (_tx, emit) => emit('w1', 'lead.created', { lead: { id: 'l1' } }, 1_000))
    const deliveries = await pg.$client`SELECT endpoint_id FROM webhook_deliveries WHERE event_id = ${eventId} ORDER BY 1`
    expect(deliveries.map((d: { endpoint_id: string }) => d.endpoint_id)).toEqual(['all'])
    expect(woken).toBe(1)
    const [event] = await pg.$client`SELECT payload FROM events WHERE id = ${eventId}`
    expect(JSON.parse(event.payload)).toEqual({ id: eventId, type: 'lead.created', timestamp: '1970-01-01T00:00:01.000Z', data: { lead: { id: 'l1' } } })
  })

  test('work that throws rolls everything back and wakes no one', async () => {
    let woken = 0
    const failing = writePg({ pg, wake: () => woken++ }, async (tx, emit) => {
      await nextSeqs(tx, 'w1', ['rollback-test'])
      await emit('w1', 'deal.closed', {}, 2_000)
      throw new Error('refused')
    })
    expect(failing).rejects.toThrow('refused')
    await failing.catch(() => {})
    expect(await readCounterPg(pg, 'w1', 'rollback-test')).toBe(0)
    const [{ n }] = await pg.$client`SELECT count(*)::int AS n FROM events WHERE type = 'deal.closed'`
    expect(n).toBe(0)
    expect(woken).toBe(0)
  })

  test('300 concurrent transactions taking overlapping counters in any order: dense sequences, no deadlock', async () => {
    const names = ['leads', 'contacts', 'leads:source:a', 'leads:source:b']
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => {
        // Each asks in its own order; nextSeqs sorts them.
        const wanted = i % 2 ? [names[2 + (i % 3 === 0 ? 1 : 0)]!, 'contacts', 'leads'] : ['leads', names[2 + (i % 3 === 0 ? 1 : 0)]!, 'contacts']
        return writePg({ pg, wake() {} }, async (tx) => {
          await lockKeys(tx, [`contact:w2:${i % 7}`, `phone:w2:${i % 5}`])
          return nextSeqs(tx, 'w2', wanted)
        })
      }),
    )
    const leadSeqs = results.map((r) => r.leads!).sort((a, b) => a - b)
    expect(leadSeqs).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    const bySource = (source: string) =>
      results
        .map((r) => r[`leads:source:${source}`])
        .filter((n): n is number => n !== undefined)
        .sort((a, b) => a - b)
    for (const source of ['a', 'b']) expect(bySource(source)).toEqual(Array.from({ length: bySource(source).length }, (_, i) => i + 1))
    expect(await readCounterPg(pg, 'w2', 'contacts')).toBe(300)
  })

  test('advisory locks serialise transactions on the same key: a read-then-insert never races', async () => {
    await pg.$client`CREATE TABLE IF NOT EXISTS lock_probe (k text, n int)`
    await Promise.all(
      Array.from({ length: 50 }, () =>
        writePg({ pg, wake() {} }, async (tx) => {
          await lockKeys(tx, ['probe'])
          const [row] = await tx.$client`SELECT count(*)::int AS n FROM lock_probe WHERE k = 'probe'`
          await tx.$client`INSERT INTO lock_probe (k, n) VALUES ('probe', ${row.n})`
        }),
      ),
    )
    const rows = await pg.$client`SELECT n FROM lock_probe ORDER BY n`
    expect(rows.map((r: { n: number }) => r.n)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
})

describe.skipIf(skip)('storage trouble on PostgreSQL', () => {
  test('real PostgreSQL errors map to storage problems (a 503 with Retry-After), and a constraint violation does not', async () => {
    const { storageProblem } = await import('../../src/db/storage')
    const { probePg } = await import('../../src/db/pg/health')
    const down = openPg('postgres://postgres@127.0.0.1:1/none', { max: 1 })
    const refused = await down.$client`SELECT 1`.catch((error) => error)
    expect(storageProblem(refused)?.cause).toBe('unreachable')
    expect(await probePg(down)).toMatchObject({ writable: false, problem: { cause: 'unreachable', retryAfter: 5 } })
    await down.$client.close()

    const database = await migratedTestDatabase()
    try {
      expect(await probePg(database.pg)).toEqual({ writable: true })
      const readOnly = await database.pg.$client
        .begin(async (tx) => {
          await tx`SET TRANSACTION READ ONLY`
          await tx`INSERT INTO workspaces (id, slug, name, created_at) VALUES ('a', 'a', 'a', 1)`
        })
        .catch((error) => error)
      expect(storageProblem(readOnly)?.cause).toBe('read-only')
      await database.pg.$client`INSERT INTO workspaces (id, slug, name, created_at) VALUES ('a', 'a', 'a', 1)`
      const duplicate = await database.pg.$client`INSERT INTO workspaces (id, slug, name, created_at) VALUES ('b', 'a', 'b', 1)`.catch((error) => error)
      expect(duplicate.errno).toBe('23505')
      expect(storageProblem(duplicate)).toBeNull()
    } finally {
      await database.drop()
    }
  })
})
