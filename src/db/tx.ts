/** Transaction helpers shared by the services. */
import { sql } from 'drizzle-orm'
import type { Db, DbOrTx, Tx } from './client'
import { prepared } from './prepared'
import { counters } from './schema'
import { recordStorageFailure, recordStorageSuccess, storageProblem } from './storage'

export type { DbOrTx, Tx } from './client'

/** Writes what must commit with a request's change (its Idempotency-Key's answer), given the service's result. */
export type StoreAnswer = (tx: Tx, result: unknown) => void

const LEADS_SOURCE_PREFIX = 'leads:source:'

/** Names of the kept counters: per-workspace totals and dense sequences, overall and per source. */
export const COUNTERS = {
  contacts: 'contacts',
  leads: 'leads',
  contactsFromSource: (source: string) => `contacts:source:${source}`,
  leadsFromSource: (source: string) => `${LEADS_SOURCE_PREFIX}${source}`,
  leadsSourcePrefix: LEADS_SOURCE_PREFIX,
} as const

/**
 * Runs fn in a BEGIN IMMEDIATE transaction: writers queue up front instead of failing on upgrade.
 * Storage trouble (lock, read-only, full disk) is remembered for /healthz until a commit succeeds.
 */
export function writeTx<T>(db: Db, fn: (tx: Tx) => T): T {
  let result: T
  try {
    result = db.transaction(fn, { behavior: 'immediate' })
  } catch (error) {
    const problem = storageProblem(error)
    if (problem) recordStorageFailure(db, problem)
    throw error
  }
  recordStorageSuccess(db)
  return result
}

/** Increments a per-workspace counter and returns its new value (1 on first use). */
export function nextSeq(tx: DbOrTx, workspaceId: string, name: string): number {
  const increment = prepared(tx, 'counters.increment', (db) =>
    db
      .insert(counters)
      .values({ workspaceId: sql.placeholder('workspaceId'), name: sql.placeholder('name'), value: 1 })
      .onConflictDoUpdate({ target: [counters.workspaceId, counters.name], set: { value: sql`${counters.value} + 1` } })
      .returning({ value: counters.value })
      .prepare(),
  )
  return increment.get({ workspaceId, name })!.value
}

/** Current value of a per-workspace counter (0 when never used). */
export function readCounter(db: DbOrTx, workspaceId: string, name: string): number {
  return (
    db.select({ value: counters.value }).from(counters).where(sql`${counters.workspaceId} = ${workspaceId} and ${counters.name} = ${name}`).get()?.value ?? 0
  )
}
