/**
 * Token buckets shared by every node on one PostgreSQL server: one row per bucket in an UNLOGGED
 * table (disposable state: a crash empties it, which only refills buckets; so it is created here,
 * not by the migrations), each take one atomic upsert.
 *
 * Time is the injected clock's `now`, passed as a parameter, not the server's clock: the
 * arithmetic is then exactly the memory store's (lib/token-bucket.ts `gcra`), and the nodes'
 * clocks are NTP-synced, so their skew (milliseconds) is far below a refill interval.
 */
import { SQL } from 'bun'
import type { Clock } from './clock'
import { admitsBelow, gcra, gcraResult, type RateLimitStore, type TakeResult } from './token-bucket'

/** The store's own table; `tat` is when the bucket is full again (Unix ms, a double like the memory store's). */
const CREATE_TABLE = `CREATE UNLOGGED TABLE IF NOT EXISTS askad_rate_buckets (
  id text PRIMARY KEY,
  tat double precision NOT NULL,
  allowed boolean NOT NULL
)`

/** The advisory lock the table is created under ('askar' in ASCII; the migrations use 'askad'). */
const TABLE_LOCK_KEY = 0x61736b6172

/** How often a node deletes buckets that are full again (a full bucket is the same as none). */
const PRUNE_EVERY_MS = 60_000
/** Rows one prune deletes at most, so it never holds many row locks or runs long. */
const PRUNE_BATCH = 5_000
/** Connections per node: takes are one short statement each. */
const POOL_SIZE = 4
const CONNECT_TIMEOUT_SECONDS = 2

/** Opens the PostgreSQL store at `url`; the table is created on first use. */
export function createPostgresStore(url: string, clock: Clock): RateLimitStore {
  const sql = new SQL(url, { max: POOL_SIZE, connectionTimeout: CONNECT_TIMEOUT_SECONDS })
  let ready: Promise<unknown> | undefined
  let prunedAt = clock.now()
  // Created lazily and retried after a failure, so a server that is down at start-up is picked up later.
  // Under an advisory lock: nodes starting together would otherwise race on CREATE ... IF NOT EXISTS
  // (a unique violation in the catalog) and the losers would fail open for a few seconds.
  const table = () =>
    (ready ??= sql
      .begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${TABLE_LOCK_KEY}::bigint)`
        await tx.unsafe(CREATE_TABLE)
      })
      .catch((error: unknown) => {
        ready = undefined
        throw error
      }))

  function pruneIfDue(now: number): void {
    if (now - prunedAt < PRUNE_EVERY_MS) return
    prunedAt = now
    // A bounded delete; failures are harmless (the next prune retries), so they are swallowed.
    sql`DELETE FROM askad_rate_buckets WHERE id IN (SELECT id FROM askad_rate_buckets WHERE tat < ${now} LIMIT ${PRUNE_BATCH})`.catch(() => {})
  }

  return {
    async take(id, capacity, windowMs): Promise<TakeResult> {
      await table()
      const now = clock.now()
      pruneIfDue(now)
      const interval = windowMs / capacity
      // The row is locked by the upsert, so concurrent takes on one bucket run one after another,
      // each deciding on the latest full-again time. `allowed` is stored to be returned with it.
      const [row] = await sql`
        INSERT INTO askad_rate_buckets AS b (id, tat, allowed) VALUES (${id}, ${now}::float8 + ${interval}::float8, true)
        ON CONFLICT (id) DO UPDATE SET
          allowed = greatest(b.tat, ${now}::float8) - ${now}::float8 <= ${admitsBelow(capacity, windowMs)}::float8,
          tat = CASE WHEN greatest(b.tat, ${now}::float8) - ${now}::float8 <= ${admitsBelow(capacity, windowMs)}::float8
                THEN greatest(b.tat, ${now}::float8) + ${interval}::float8 ELSE b.tat END
        RETURNING tat, allowed`
      return gcraResult(row.allowed, Number(row.tat), now, capacity, windowMs)
    },
    async peek(id, capacity, windowMs): Promise<TakeResult> {
      await table()
      const now = clock.now()
      const [row] = await sql`SELECT tat FROM askad_rate_buckets WHERE id = ${id}`
      return gcra(row ? Number(row.tat) : undefined, now, capacity, windowMs, false)
    },
    async close() {
      await sql.close()
    },
  }
}
