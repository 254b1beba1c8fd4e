/**
 * Group commit: write transactions submitted during one turn of the event loop run inside
 * ONE SQLite transaction, each in its own savepoint. A commit (WAL append, and now and then
 * a checkpoint) costs more than the few statements a lead needs, so under concurrent load
 * this multiplies ingest throughput; alone, a job waits one tick. A job that throws rolls
 * back only its savepoint and rejects only its own promise. Results are handed out after
 * the commit, so a caller never answers before its data is durable in the WAL.
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
  let outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[]
  try {
    outcomes = writeTx(db, (tx) =>
      batch.map((job) => {
        try {
          return { ok: true as const, value: tx.transaction((savepoint) => job.work(savepoint)) }
        } catch (error) {
          return { ok: false as const, error }
        }
      }),
    )
  } catch (error) {
    // The commit itself failed (disk full, database closed): nothing of the batch is stored.
    for (const job of batch) job.reject(error)
    return
  }
  outcomes.forEach((outcome, i) => (outcome.ok ? batch[i]!.resolve(outcome.value) : batch[i]!.reject(outcome.error)))
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
