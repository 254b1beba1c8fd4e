/**
 * Storage trouble (SPEC §10): SQLite errors that are the operator's to fix, not bugs — the write
 * lock held by another process, a read-only file, a full disk, an I/O error. Each becomes a 503
 * `unavailable` problem with Retry-After and a detail an operator understands; the cause is logged
 * once per episode, and /healthz reports it until the database takes writes again.
 */
import { withoutBusyWait, type Db } from './client'
import { syncFailure } from './durability'

/** What kind of storage trouble an error is; `unreachable` is a PostgreSQL server that cannot be reached or is shutting down. */
export type StorageCause = 'locked' | 'read-only' | 'full' | 'io' | 'unreachable'

/** A storage failure as answered and reported. */
export interface StorageProblem {
  cause: StorageCause
  detail: string
  /** Seconds a client should wait before retrying. */
  retryAfter: number
}

/** The lock is usually held briefly (a CLI command, a backup); the other causes need an operator. */
const RETRY_AFTER_SECONDS: Record<StorageCause, number> = { locked: 2, 'read-only': 60, full: 60, io: 30, unreachable: 5 }

const DETAILS: Record<StorageCause, string> = {
  locked: 'The database is locked by another process (a CLI command, a backup or another server on the same file); retry shortly.',
  'read-only': 'The database is read-only (file permissions, a read-only mount or volume); nothing can be saved until the operator fixes it.',
  full: 'The disk holding the database is full; nothing can be saved until the operator frees space.',
  io: 'The database storage reported an I/O error; the operator should check the disk.',
  unreachable: 'The database server cannot be reached (down, restarting, or out of connections); retry shortly.',
}

/**
 * PostgreSQL's SQLSTATEs that are storage trouble (Bun's PostgresError carries it as `errno`):
 * class 08 connection exceptions and 57P0x shutdowns are `unreachable`, like Bun's own
 * ERR_POSTGRES_CONNECTION_* codes. A deadlock or serialization failure is `locked`: askad takes its
 * locks in one order, so it should not happen, and a client may retry if it does.
 */
function postgresCause(code: string, sqlState: unknown): StorageCause | null {
  if (code.startsWith('ERR_POSTGRES_CONNECTION') || code === 'ERR_POSTGRES_IDLE_TIMEOUT') return 'unreachable'
  if (typeof sqlState !== 'string') return null
  if (sqlState.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(sqlState)) return 'unreachable'
  if (sqlState === '25006') return 'read-only'
  if (sqlState === '53100') return 'full'
  if (sqlState.startsWith('58')) return 'io'
  if (['40001', '40P01', '55P03', '57014'].includes(sqlState)) return 'locked'
  return null
}

/** Writes failing on another process's lock for this long make /healthz fail (a brief hold is normal). */
const LOCKED_UNHEALTHY_AFTER_MS = 1_000

/** How long /healthz keeps reporting a full disk or I/O error that its cheap probe cannot see, when no write has succeeded since. */
const UNSEEN_FAILURE_MEMORY_MS = 60_000

/** The storage trouble a thrown error stands for, or null for anything else. bun:sqlite errors carry the extended code; Bun's PostgresError an ERR_POSTGRES_* code and the SQLSTATE. */
export function storageProblem(error: unknown): StorageProblem | null {
  // drizzle wraps a driver's error in its own, with the driver's as the cause.
  const wrapped = (error as { cause?: unknown } | null)?.cause
  if (wrapped instanceof Error && !(error as { code?: unknown }).code) return storageProblem(wrapped)
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return null
  if (code.startsWith('ERR_POSTGRES_')) {
    const cause = postgresCause(code, (error as { errno?: unknown }).errno)
    return cause && { cause, detail: DETAILS[cause], retryAfter: RETRY_AFTER_SECONDS[cause] }
  }
  if (!code.startsWith('SQLITE_')) return null
  const cause: StorageCause | null =
    code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')
      ? 'locked'
      : code.startsWith('SQLITE_READONLY')
        ? 'read-only'
        : code === 'SQLITE_FULL'
          ? 'full'
          : code.startsWith('SQLITE_IOERR')
            ? 'io'
            : null
  return cause && { cause, detail: DETAILS[cause], retryAfter: RETRY_AFTER_SECONDS[cause] }
}

interface StorageState {
  /** The current episode: its problem, when it began, and when a write last failed. */
  failure: { problem: StorageProblem; since: number; at: number } | null
  /** The cause already logged in this episode. */
  logged: StorageCause | null
}

/** Per database handle: the SQLite `Db`, or the PostgreSQL pool on a node that runs on one. */
const states = new WeakMap<object, StorageState>()

function stateOf(db: object): StorageState {
  let state = states.get(db)
  if (!state) states.set(db, (state = { failure: null, logged: null }))
  return state
}

/** Records a failed write. */
export function recordStorageFailure(db: object, problem: StorageProblem, now = Date.now()): void {
  const state = stateOf(db)
  const since = state.failure?.problem.cause === problem.cause ? state.failure.since : now
  state.failure = { problem, since, at: now }
}

/** True the first time a cause is reported in an episode, so a disk that stays full is logged once, not per request. */
export function firstReport(db: object, cause: StorageCause): boolean {
  const state = stateOf(db)
  if (state.logged === cause) return false
  state.logged = cause
  return true
}

/** A write committed: the episode, if any, is over. */
export function recordStorageSuccess(db: object): void {
  const state = states.get(db)
  if (state) {
    state.failure = null
    state.logged = null
  }
}

/**
 * Whether the database can take a write now: a write transaction that creates a table and rolls
 * back (no disk write, and no wait for the lock), plus what failed writes reported.
 */
export function writeProbe(db: Db, now = Date.now()): { writable: true } | { writable: false; problem: StorageProblem } {
  const stopped = syncFailure(db)
  if (stopped) return { writable: false, problem: storageProblem(stopped)! }
  const sqlite = db.$client
  try {
    withoutBusyWait(sqlite, () => {
      sqlite.exec('BEGIN IMMEDIATE')
      try {
        // BEGIN alone succeeds on a read-only file; a schema change is the cheapest statement that must write.
        sqlite.exec('CREATE TABLE askad_write_probe (x)')
      } finally {
        sqlite.exec('ROLLBACK')
      }
    })
  } catch (error) {
    const problem = storageProblem(error)
    if (!problem) throw error
    // A lock held for a moment is normal; only writes that have been failing on it for a while make the node unhealthy.
    const failure = stateOf(db).failure
    if (problem.cause === 'locked' && !(failure?.problem.cause === 'locked' && now - failure.since >= LOCKED_UNHEALTHY_AFTER_MS)) return { writable: true }
    return { writable: false, problem }
  }
  const failure = stateOf(db).failure
  // The probe sees the lock and a read-only file; a full disk or an I/O error only shows on a real commit.
  if (failure && (failure.problem.cause === 'full' || failure.problem.cause === 'io') && now - failure.at < UNSEEN_FAILURE_MEMORY_MS) {
    return { writable: false, problem: failure.problem }
  }
  recordStorageSuccess(db)
  return { writable: true }
}
