/**
 * ASKAD_DURABILITY=full on a serving SQLite database: a write is acknowledged only once its commit
 * is on disk, so an acknowledged lead survives power loss, not only a crash of the process.
 *
 * SQLite's own way, `synchronous = FULL`, fsyncs the WAL inside every COMMIT, on the thread that
 * serves requests: measured here, a group commit then stalls the event loop ~1.5 ms and ingest loses
 * ~20 %. Instead the connection keeps `synchronous = NORMAL` (crash-safe and consistent after power
 * loss, but the last commits may be lost) and this module syncs the WAL file itself (fdatasync, as
 * SQLite's own syncs on Linux) on a thread-pool thread after the commit, holding the commit's answers
 * until that sync returns. The guarantee is
 * the same as FULL's (every frame of the commit, its header included, is on disk before the caller
 * is answered); requests keep being served meanwhile, and one fsync covers every commit made before
 * it started, so concurrent writers share it as they share the commit.
 */
import { closeSync, fdatasync, fsyncSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Db } from './client'

/** `full`: acknowledged writes survive power loss; `normal`: they survive a crash of askad, the last may be lost to power loss. */
export const DURABILITIES = ['full', 'normal'] as const
export type Durability = (typeof DURABILITIES)[number]

/**
 * Syncs run at once on the thread pool. A commit waits for a sync that started after it; letting the
 * next batch start its own instead of queueing behind the running one halves the wait, and the wait
 * is what a closed-loop client's rate divides by (same-run bench: full at 0.73 of normal's rate with
 * one sync at a time).
 */
const MAX_SYNCS_RUNNING = 4

interface WalSync {
  walPath: string
  fd: number | null
  /** Syncs running; commits made while MAX_SYNCS_RUNNING run wait for the next to start. */
  running: number
  /** Called when no sync runs any more (the database is closing). */
  idle: (() => void)[]
  /** Callers whose commit happened before the next fsync starts. */
  waiting: { resolve: () => void; reject: (error: unknown) => void }[]
  /** Syncs made: shown in /metrics. */
  syncs: number
}

const walSyncs = new WeakMap<Db, WalSync>()

/**
 * From now on, `durable(db)` fsyncs the WAL of the file-backed database `db`. Its folder is synced
 * once, so the WAL file itself (created when the database was opened) survives power loss.
 */
export function syncCommits(db: Db): void {
  // The file as SQLite opened it: through a symlink (ASKAD_DB=/srv/askad.db → a volume), its WAL is beside the real file.
  const path = db.$client.query<{ file: string }, []>("SELECT file FROM pragma_database_list WHERE name = 'main'").get()!.file
  const dir = openSync(dirname(path), 'r')
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
  walSyncs.set(db, { walPath: `${path}-wal`, fd: null, running: 0, idle: [], waiting: [], syncs: 0 })
}

/** Resolves once every commit made so far on `db` is on disk; null when the database does not sync commits (answer at once). */
export function durable(db: Db): Promise<void> | null {
  const sync = walSyncs.get(db)
  if (!sync) return null
  return new Promise((resolve, reject) => {
    sync.waiting.push({ resolve, reject })
    if (sync.running < MAX_SYNCS_RUNNING) start(sync)
  })
}

/** How many WAL fsyncs the database made for durability (0 when it does not sync commits). */
export function walSyncCount(db: Db): number {
  return walSyncs.get(db)?.syncs ?? 0
}

function start(sync: WalSync): void {
  const batch = sync.waiting.splice(0)
  sync.running++
  const done = (error: NodeJS.ErrnoException | null) => {
    sync.running--
    sync.syncs++
    if (error) {
      // The commit may be on disk or not: the caller is answered 503 (an I/O error), and a retry with
      // its Idempotency-Key replays the stored answer if it was.
      const failure = Object.assign(new Error(`fsync of ${sync.walPath} failed: ${error.message}`), { code: 'SQLITE_IOERR_FSYNC' })
      for (const caller of batch) caller.reject(failure)
    } else for (const caller of batch) caller.resolve()
    if (sync.waiting.length > 0) start(sync)
    else if (sync.running === 0) for (const wake of sync.idle.splice(0)) wake()
  }
  try {
    // The WAL exists for as long as a connection is open (start-up wrote to it): opened once, kept.
    sync.fd ??= openSync(sync.walPath, 'r')
  } catch (error) {
    return done(error as NodeJS.ErrnoException)
  }
  fdatasync(sync.fd, done)
}

/** Waits for the running syncs and closes the WAL file handle (the database is closing). */
export async function stopSyncing(db: Db): Promise<void> {
  const sync = walSyncs.get(db)
  if (!sync) return
  if (sync.running > 0) await new Promise<void>((resolve) => sync.idle.push(resolve))
  walSyncs.delete(db)
  if (sync.fd !== null) closeSync(sync.fd)
}
