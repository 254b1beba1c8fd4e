/**
 * Group commit: write transactions submitted during one turn of the event loop run inside
 * ONE SQLite transaction. A commit (WAL append, and now and then a checkpoint) costs more
 * than the few statements a lead needs, so under concurrent load this multiplies ingest
 * throughput; alone, a job waits one tick. Results are handed out after the commit, so a
 * caller never answers before its data is in the WAL.
 *
 * If any job throws, the shared transaction is rolled back and every job of the batch runs
 * again in a transaction of its own, so one bad job fails alone. Jobs must therefore touch
 * nothing outside the transaction (they may run twice). Savepoints per job would isolate
 * failures too, but cost more than the statements of a lead; failures here are rare (input
 * is validated before a job is queued).
 */
import type { Db } from './client'
import { writeTx, type Tx } from './tx'

interface Job {
  work: (tx: Tx) => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

/** Most jobs committed together; keeps a burst's transaction (and its lock hold) short. */
const MAX_JOBS_PER_COMMIT = 256

const queues = new WeakMap<Db, Job[]>()

function flush(db: Db): void {
  const queue = queues.get(db)!
  const batch = queue.splice(0, MAX_JOBS_PER_COMMIT)
  if (queue.length > 0) setImmediate(() => flush(db))
  let results: unknown[]
  try {
    results = writeTx(db, (tx) => batch.map((job) => job.work(tx)))
  } catch {
    for (const job of batch) {
      try {
        job.resolve(writeTx(db, job.work))
      } catch (error) {
        job.reject(error)
      }
    }
    return
  }
  results.forEach((value, i) => batch[i]!.resolve(value))
}

/** Runs `work` in a write transaction shared with the other jobs of this event-loop turn; resolves after the commit. */
export function groupCommit<T>(db: Db, work: (tx: Tx) => T): Promise<T> {
  let queue = queues.get(db)
  if (!queue) queues.set(db, (queue = []))
  return new Promise<T>((resolve, reject) => {
    queue.push({ work, resolve: resolve as (value: unknown) => void, reject })
    if (queue.length === 1) setImmediate(() => flush(db))
  })
}
