/**
 * The retention worker's SQL on PostgreSQL, where other nodes keep writing while it prunes:
 * - events are walked by id (time-ordered UUIDv7 ids, the primary key's index: insertion order as
 *   SQLite's rowid gives it, where a walk over the unindexed rowid column would scan the table for
 *   every window);
 * - before an old event goes, its settled deliveries are locked (in id order), so a manual retry
 *   committing at that moment is waited for and then seen as pending: the event stays;
 * - expired idempotency keys and sessions are taken `FOR UPDATE SKIP LOCKED`: a request using one
 *   right now is passed over, never waited for.
 */
import type { PgDb } from '../db/pg/client'
import type { RetentionStore } from './retention'

/** The retention store on `pg`, deleting at most `batchEvents` events' worth or `batchRows` rows per transaction. */
export function pgRetentionStore(pg: PgDb, batchEvents: number, batchRows: number): RetentionStore {
  const sql = pg.$client
  return {
    async eventWindow(after) {
      const rows: { id: string; created_at: string }[] = await sql`
        SELECT id, created_at FROM events WHERE id > ${String(after ?? '')} ORDER BY id LIMIT ${batchEvents}`
      return rows.map((e) => ({ cursor: e.id, createdAt: Number(e.created_at) }))
    },
    deleteSettledEvents: (after, last, cutoff) =>
      sql.begin(async (tx) => {
        const from = String(after ?? '')
        const to = String(last)
        // Sent together, run in order: the delete's snapshot is taken once the locks are held.
        const [, deleted] = await Promise.all([
          tx`
            SELECT 1 FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
            WHERE e.id > ${from} AND e.id <= ${to} AND e.created_at < ${cutoff} AND d.status <> 'pending'
            ORDER BY d.id FOR UPDATE OF d`.execute(),
          tx`
            DELETE FROM events WHERE id > ${from} AND id <= ${to} AND created_at < ${cutoff}
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id AND d.status = 'pending')`.execute(),
        ])
        return deleted.count
      }),
    async deleteExpiredIdempotency(now) {
      const deleted = await sql`
        DELETE FROM idempotency_keys k USING (
          SELECT api_key_id, key FROM idempotency_keys WHERE expires_at <= ${now} LIMIT ${batchRows} FOR UPDATE SKIP LOCKED
        ) x WHERE k.api_key_id = x.api_key_id AND k.key = x.key`
      return deleted.count
    },
    async deleteExpiredSessions(now) {
      const deleted = await sql`
        DELETE FROM sessions s USING (
          SELECT hash FROM sessions WHERE expires_at <= ${now} LIMIT ${batchRows} FOR UPDATE SKIP LOCKED
        ) x WHERE s.hash = x.hash`
      return deleted.count
    },
  }
}
