/**
 * The Idempotency-Key rows on PostgreSQL, where several nodes answer one client. The answer is
 * written in the transaction of the change, decided under the key row's lock (FOR UPDATE, or the
 * unique key when there is no row yet): of two nodes running one key at once, the later waits for
 * the first's commit, finds its answer and rolls back, so the change happens exactly once.
 */
import { and, eq } from 'drizzle-orm'
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

/** The key's row as stored (read outside a transaction: what decides is re-read under its lock). */
export async function rowPg(pg: PgDb, slot: KeySlot): Promise<IdempotencyRowPg | undefined> {
  const [row] = await pg.select().from(idempotencyKeys).where(whereSlot(slot))
  return row
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
