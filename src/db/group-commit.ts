/**
 * Group commit: write transactions submitted during one turn of the event loop run inside
 * ONE SQLite transaction. A commit (WAL append, and now and then a checkpoint) costs more
 * than the few statements a lead needs, so under concurrent load this multiplies ingest
 * throughput; alone, a job waits one tick. Results are handed out after the commit, so a
 * caller never answers before its data is in the WAL, and with durability `full` only once the WAL
 * is on disk (durability.ts).
 *
 * If any job throws, the shared transaction is rolled back and every job of the batch runs
 * again in a transaction of its own, so one bad job fails alone. Jobs must therefore touch
 * nothing outside the transaction (they may run twice). Savepoints per job would isolate
 * failures too, but cost more than the statements of a lead; failures here are rare (input
 * is validated before a job is queued).
 *
 * When another process holds the write lock, the batch waits for it without blocking the event
 * loop (the connection's busy timeout is short): it is retried with growing pauses, and a job that
 * has waited WRITE_LOCK_WAIT_MS is rejected with the SQLITE_BUSY error (a 503 for its request).
 * Writes that must not share a transaction (`commitAlone`) get the same lock handling: tried at
 * once, and queued to run alone only while the lock is held.
 */
import { withoutBusyWait, type Db } from './client'
import { durable, syncFailure } from './durability'
import { storageProblem } from './storage'
import { writeTx, type Tx } from './tx'

interface Job {
  work: (tx: Tx) => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  queuedAt: number
  /** Runs in a transaction of its own, never batched with other jobs. */
  alone: boolean
}

interface Queue {
  jobs: Job[]
  /** A flush is scheduled (next tick, or after a pause for the lock). */
  scheduled: boolean
  /** Pause before the next attempt while the lock is held by another process; 0 when it is not. */
  backoffMs: number
}

/** Most jobs committed together; keeps a burst's transaction (and its lock hold) short. */
const MAX_JOBS_PER_COMMIT = 256

/** Longest a write waits for another process's lock before its request is answered 503. */
export const WRITE_LOCK_WAIT_MS = 3_000
/** First pause after SQLITE_BUSY; doubled per failed attempt up to the maximum. */
const FIRST_LOCK_PAUSE_MS = 5
const MAX_LOCK_PAUSE_MS = 200

const queues = new WeakMap<Db, Queue>()

function isLocked(error: unknown): boolean {
  return storageProblem(error)?.cause === 'locked'
}

function schedule(db: Db, queue: Queue, pauseMs = 0): void {
  if (queue.scheduled) return
  queue.scheduled = true
  if (pauseMs > 0) setTimeout(() => flush(db), pauseMs)
  else setImmediate(() => flush(db))
}

function flush(db: Db): void {
  const queue = queues.get(db)!
  queue.scheduled = false
  const batch = queue.jobs.splice(0, batchSize(queue.jobs))
  const stopped = syncFailure(db)
  if (stopped) {
    // A failed WAL sync stopped writes (durability.ts): nothing more may commit until a restart.
    for (const job of batch) job.reject(stopped)
    if (queue.jobs.length > 0) schedule(db, queue)
    return
  }
  let results: unknown[]
  try {
    // While the lock is known to be held, an attempt must not wait for it even briefly: the pause is async.
    const attempt = () => writeTx(db, (tx) => batch.map((job) => job.work(tx)))
    results = queue.backoffMs > 0 ? withoutBusyWait(db.$client, attempt) : attempt()
  } catch (error) {
    if (isLocked(error)) return waitForLock(db, queue, batch, error)
    queue.backoffMs = 0
    // A job that failed alone has had its own transaction: running it again would only fail again.
    if (batch.length === 1) batch[0]!.reject(error)
    else
      for (const job of batch) {
        try {
          job.resolve(afterSync(db, writeTx(db, job.work)))
        } catch (jobError) {
          job.reject(jobError)
        }
      }
    if (queue.jobs.length > 0) schedule(db, queue)
    return
  }
  queue.backoffMs = 0
  const synced = durable(db)
  if (synced)
    synced.then(
      () => results.forEach((value, i) => batch[i]!.resolve(value)),
      (error) => batch.forEach((job) => job.reject(error)),
    )
  else results.forEach((value, i) => batch[i]!.resolve(value))
  if (queue.jobs.length > 0) schedule(db, queue)
}

/** How many of the queued jobs the next transaction takes: a job that runs alone, or the batchable jobs before the next such. */
function batchSize(jobs: Job[]): number {
  if (jobs[0]!.alone) return 1
  let size = 1
  while (size < jobs.length && size < MAX_JOBS_PER_COMMIT && !jobs[size]!.alone) size++
  return size
}

/** Puts the batch back (oldest first), refuses jobs that waited their bound, and tries again after a pause. */
function waitForLock(db: Db, queue: Queue, batch: Job[], busy: unknown): void {
  const now = performance.now()
  const waiting = batch.filter((job) => {
    if (now - job.queuedAt < WRITE_LOCK_WAIT_MS) return true
    job.reject(busy)
    return false
  })
  queue.jobs.unshift(...waiting)
  queue.backoffMs = Math.min(MAX_LOCK_PAUSE_MS, queue.backoffMs === 0 ? FIRST_LOCK_PAUSE_MS : queue.backoffMs * 2)
  if (queue.jobs.length > 0) schedule(db, queue, queue.backoffMs)
  else queue.backoffMs = 0
}

/** `value` once the commit that made it is durable (at once unless the database syncs commits). */
function afterSync<T>(db: Db, value: T): Promise<T> {
  return durable(db)?.then(() => value) ?? Promise.resolve(value)
}

function queueOf(db: Db): Queue {
  let queue = queues.get(db)
  if (!queue) queues.set(db, (queue = { jobs: [], scheduled: false, backoffMs: 0 }))
  return queue
}

function enqueue<T>(db: Db, queue: Queue, work: (tx: Tx) => T, alone: boolean): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    queue.jobs.push({ work, resolve: resolve as (value: unknown) => void, reject, queuedAt: performance.now(), alone })
    // While waiting for the lock, the pending timer flushes the new job with the others.
    schedule(db, queue, queue.backoffMs)
  })
}

/** Runs `work` in a write transaction shared with the other jobs of this event-loop turn; resolves after the commit. */
export function groupCommit<T>(db: Db, work: (tx: Tx) => T): Promise<T> {
  return enqueue(db, queueOf(db), work, false)
}

/**
 * Runs `work` in a write transaction of its own, at once when the lock is free (as a synchronous
 * write would); when another process holds it, waits for it like a group commit does.
 */
export function commitAlone<T>(db: Db, work: (tx: Tx) => T): Promise<T> {
  const queue = queueOf(db)
  const stopped = syncFailure(db)
  if (stopped) return Promise.reject(stopped)
  if (queue.backoffMs === 0) {
    try {
      return afterSync(db, writeTx(db, work))
    } catch (error) {
      if (!isLocked(error)) return Promise.reject(error)
    }
  }
  return enqueue(db, queue, work, true)
}
