/**
 * The retention worker's SQL on SQLite: the events walked in rowid order, every delete a small
 * write transaction of its own; compiled once.
 */
import type { Db } from '../db/client'
import { writeTx } from '../db/tx'
import type { RetentionStore } from './retention'

/** The retention store on `db`, deleting at most `batchEvents` events' worth or `batchRows` rows per transaction. */
export function sqliteRetentionStore(db: Db, batchEvents: number, batchRows: number): RetentionStore {
  const stmt = retentionStatements(db, batchEvents, batchRows)
  return {
    eventWindow: async (after) => stmt.eventWindow.all({ after: Number(after ?? 0) }).map((e) => ({ cursor: e.r, createdAt: e.created_at })),
    deleteSettledEvents: async (after, last, cutoff) =>
      writeTx(db, () => stmt.deleteSettledEvents.run({ after: Number(after ?? 0), last: Number(last), cutoff }).changes),
    deleteExpiredIdempotency: async (now) => writeTx(db, () => stmt.deleteExpiredIdempotency.run({ now }).changes),
    deleteExpiredSessions: async (now) => writeTx(db, () => stmt.deleteExpiredSessions.run({ now }).changes),
  }
}

function retentionStatements(db: Db, batchEvents: number, batchRows: number) {
  const q = db.$client
  return {
    eventWindow: q.query<{ r: number; created_at: number }, { after: number }>(
      `select rowid as r, created_at from events where rowid > $after order by rowid limit ${batchEvents}`,
    ),
    /** Old events none of whose deliveries is still pending (none at all counts); the foreign keys cascade to deliveries and attempts. */
    deleteSettledEvents: q.query<never, { after: number; last: number; cutoff: number }>(`
      delete from events where rowid > $after and rowid <= $last and created_at < $cutoff
        and not exists (select 1 from webhook_deliveries d where d.event_id = events.id and d.status = 'pending')`),
    deleteExpiredIdempotency: q.query<never, { now: number }>(
      `delete from idempotency_keys where rowid in (select rowid from idempotency_keys where expires_at <= $now limit ${batchRows})`,
    ),
    deleteExpiredSessions: q.query<never, { now: number }>(
      `delete from sessions where rowid in (select rowid from sessions where expires_at <= $now limit ${batchRows})`,
    ),
  }
}
