/**
 * The Idempotency-Key rows on PostgreSQL, where several nodes answer one client: the reservation
 * of a running request is a row (`in_flight`) taken with one atomic upsert, so exactly one node
 * runs a key at a time; its answer replaces the row (`done`) in the transaction of the change,
 * decided under the row's lock (FOR UPDATE); a failed request deletes its reservation again.
 */
import { and, eq, sql } from 'drizzle-orm'
import type { PgDb } from '../db/pg/client'
import { idempotencyKeys } from '../db/pg/schema'
import type { PgTx } from '../db/pg/unit-of-work'

/** A key's row, as the plugin reads it on either engine. */
export type IdempotencyRowPg = typeof idempotencyKeys.$inferSelect

/** Which key of which API key. */
export interface KeySlot {
  apiKeyId: string
  key: string
}

/** What an answered key's row holds besides its slot. */
export type AnswerValues = Pick<IdempotencyRowPg, 'requestHash' | 'state' | 'responseStatus' | 'responseHeaders' | 'responseBody' | 'createdAt' | 'expiresAt'>

function whereSlot(slot: KeySlot) {
  return and(eq(idempotencyKeys.apiKeyId, slot.apiKeyId), eq(idempotencyKeys.key, slot.key))
}

/**
 * Reserves the key for a request with `requestHash` at `now`: inserts the `in_flight` row, or
 * takes over a row whose answer expired or whose reservation was abandoned (taken before
 * `abandonedBefore`). Resolves with `reserved`, else with the row that holds the key (none when
 * it was deleted in between: try again).
 */
export async function reservePg(
  pg: PgDb,
  slot: KeySlot,
  requestHash: string,
  now: number,
  expiresAt: number,
  abandonedBefore: number,
): Promise<{ reserved: true } | { reserved: false; holder: IdempotencyRowPg | undefined }> {
  const reservation = {
    requestHash,
    state: 'in_flight' as const,
    responseStatus: null,
    responseHeaders: null,
    responseBody: null,
    createdAt: now,
    expiresAt,
  }
  const taken = await pg
    .insert(idempotencyKeys)
    .values({ ...slot, ...reservation })
    .onConflictDoUpdate({
      target: [idempotencyKeys.apiKeyId, idempotencyKeys.key],
      set: reservation,
      setWhere: sql`(${idempotencyKeys.state} = 'done' AND ${idempotencyKeys.expiresAt} <= ${now})
        OR (${idempotencyKeys.state} = 'in_flight' AND ${idempotencyKeys.createdAt} < ${abandonedBefore})`,
    })
    .returning({ key: idempotencyKeys.key })
  if (taken.length > 0) return { reserved: true }
  const [holder] = await pg.select().from(idempotencyKeys).where(whereSlot(slot))
  return { reserved: false, holder }
}

/** The key's row, locked until the transaction ends: what is decided from it stays true until the commit. */
export async function lockedRowPg(tx: PgTx, slot: KeySlot): Promise<IdempotencyRowPg | undefined> {
  const [row] = await tx.select().from(idempotencyKeys).where(whereSlot(slot)).for('update')
  return row
}

/**
 * Writes the answer into the key's row; call after `lockedRowPg` found (and locked) `existing`.
 * Without a row to update it inserts one; false when another transaction inserted the row first
 * (the caller locks and decides again).
 */
export async function writeAnswerPg(tx: PgTx, slot: KeySlot, existing: IdempotencyRowPg | undefined, values: AnswerValues): Promise<boolean> {
  if (existing) {
    await tx.update(idempotencyKeys).set(values).where(whereSlot(slot))
    return true
  }
  const inserted = await tx
    .insert(idempotencyKeys)
    .values({ ...slot, ...values })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key })
  return inserted.length > 0
}

/** Deletes the reservation taken at `reservedAt` for `requestHash`, if it is still in flight (never an answer, never another's reservation). */
export async function releasePg(pg: PgDb, slot: KeySlot, requestHash: string, reservedAt: number): Promise<void> {
  await pg
    .delete(idempotencyKeys)
    .where(
      and(whereSlot(slot), eq(idempotencyKeys.state, 'in_flight'), eq(idempotencyKeys.createdAt, reservedAt), eq(idempotencyKeys.requestHash, requestHash)),
    )
}
