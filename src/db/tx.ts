/** Transaction helpers shared by the services. */
import { sql } from 'drizzle-orm'
import { committed } from './checkpointer'
import type { Db, DbOrTx, Tx } from './client'
import { prepared } from './prepared'
import { counters } from './schema'
import { recordStorageFailure, recordStorageSuccess, storageProblem } from './storage'

export type { DbOrTx, Tx } from './client'

/** Writes what must commit with a request's change (its Idempotency-Key's answer), given the service's result. */
export type StoreAnswer = (tx: Tx, result: unknown) => void

const LEADS_SOURCE_PREFIX = 'leads:source:'
const ERASED_PREFIX = 'erased:'

/**
 * Names of the kept counters: per-workspace totals and dense sequences, overall and per source.
 * A sequence counter is the high-water mark; `erased(name)` counts the numbers of its erased rows
 * (listed in `erased_seqs`), so the live total is their difference (see db/seq-page.ts).
 */
export const COUNTERS = {
  contacts: 'contacts',
  leads: 'leads',
  contactsFromSource: (source: string) => `contacts:source:${source}`,
  leadsFromSource: (source: string) => `${LEADS_SOURCE_PREFIX}${source}`,
  leadsSourcePrefix: LEADS_SOURCE_PREFIX,
  /** The count of erased sequence numbers of a counter; its prefix keeps it out of `leadsSourcePrefix` look-ups. */
  erased: (name: string) => `${ERASED_PREFIX}${name}`,
  erasedPrefix: ERASED_PREFIX,
} as const

/** A counter a write transaction has taken numbers from: its latest value, stored once before the commit. */
interface TakenCounter {
  workspaceId: string
  name: string
  value: number
}

/**
 * Counters taken inside each running writeTx, by transaction. A group commit puts dozens of leads in
 * one transaction, each taking four numbers (leads, leads per source, contacts, contacts per source):
 * counting in memory and writing each counter once before the commit turns ~4 upserts per lead into
 * ~4 per batch. A rolled-back transaction drops its map with it, so nothing is ever half-counted.
 */
const takenCounters = new WeakMap<object, Map<string, TakenCounter>>()

/**
 * Runs fn in a BEGIN IMMEDIATE transaction: writers queue up front instead of failing on upgrade.
 * Storage trouble (lock, read-only, full disk) is remembered for /healthz until a commit succeeds.
 */
export function writeTx<T>(db: Db, fn: (tx: Tx) => T): T {
  let result: T
  try {
    result = db.transaction(
      (tx) => {
        const taken = new Map<string, TakenCounter>()
        takenCounters.set(tx, taken)
        const value = fn(tx)
        storeCounters(tx, taken)
        return value
      },
      { behavior: 'immediate' },
    )
  } catch (error) {
    const problem = storageProblem(error)
    if (problem) recordStorageFailure(db, problem)
    throw error
  }
  recordStorageSuccess(db)
  committed(db)
  return result
}

/** Increments a per-workspace counter and returns its new value (1 on first use), in memory until writeTx commits. */
export function nextSeq(tx: Tx, workspaceId: string, name: string): number {
  const taken = takenCounters.get(tx)
  if (!taken) throw new Error('nextSeq runs inside writeTx, whose commit stores the counters it takes')
  const key = `${workspaceId}\u0000${name}`
  let counter = taken.get(key)
  if (!counter) taken.set(key, (counter = { workspaceId, name, value: storedCounter(tx, workspaceId, name) }))
  return ++counter.value
}

/** Current value of a per-workspace counter (0 when never used), counting what the running transaction took. */
export function readCounter(db: DbOrTx, workspaceId: string, name: string): number {
  return takenCounters.get(db)?.get(`${workspaceId}\u0000${name}`)?.value ?? storedCounter(db, workspaceId, name)
}

/** Rows a sequence counter numbered that still exist: its high-water mark less its erased numbers. */
export function liveCount(db: DbOrTx, workspaceId: string, name: string): number {
  return readCounter(db, workspaceId, name) - readCounter(db, workspaceId, COUNTERS.erased(name))
}

function storedCounter(db: DbOrTx, workspaceId: string, name: string): number {
  const read = prepared(db, 'counters.read', (d) =>
    d
      .select({ value: counters.value })
      .from(counters)
      .where(sql`${counters.workspaceId} = ${sql.placeholder('workspaceId')} and ${counters.name} = ${sql.placeholder('name')}`)
      .prepare(),
  )
  return read.get({ workspaceId, name })?.value ?? 0
}

/** Writes the counters a transaction took, each once, just before its commit. */
function storeCounters(tx: Tx, taken: Map<string, TakenCounter>): void {
  if (taken.size === 0) return
  const store = prepared(tx, 'counters.store', (db) =>
    db
      .insert(counters)
      .values({ workspaceId: sql.placeholder('workspaceId'), name: sql.placeholder('name'), value: sql.placeholder('value') })
      .onConflictDoUpdate({ target: [counters.workspaceId, counters.name], set: { value: sql`excluded.value` } })
      .prepare(),
  )
  for (const { workspaceId, name, value } of taken.values()) store.run({ workspaceId, name, value })
}
