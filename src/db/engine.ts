/**
 * The storage engine boundary: what a storage engine implements for the unit of work
 * (unit-of-work.ts), the one way services write. Async at the edge, so an engine with a network
 * round trip (PostgreSQL) fits; the work itself is synchronous inside, so SQLite runs it in one
 * BEGIN IMMEDIATE transaction without yielding, and concurrent ingest shares commits.
 *
 * Contract for an engine:
 * - `work` runs inside one write transaction; the promise resolves with its result after the
 *   commit, or rejects with what it threw (the transaction rolled back).
 * - `work` may run more than once (a shared transaction rolled back for another job), so it must
 *   touch nothing outside the transaction.
 * - A write that cannot get the lock within a bound rejects with a storage error (see storage.ts:
 *   a 503 for its request) without blocking the event loop meanwhile.
 */
import type { Db, Tx } from './client'
import { commitAlone, groupCommit } from './group-commit'

/** A storage engine's writes. */
export interface StorageEngine {
  /** Runs `work` in a write transaction of its own; resolves after the commit. */
  write<T>(work: (tx: Tx) => T): Promise<T>
  /** Runs `work` in a write transaction it may share with concurrent writes (group commit); resolves after the commit. */
  writeBatched<T>(work: (tx: Tx) => T): Promise<T>
}

/**
 * The SQLite engine of a connection: group commit and asynchronous lock waits (group-commit.ts).
 * Stateless itself: the commit queue belongs to the connection, so every engine of one `db` shares it.
 */
export function sqliteEngine(db: Db): StorageEngine {
  return { write: (work) => commitAlone(db, work), writeBatched: (work) => groupCommit(db, work) }
}
