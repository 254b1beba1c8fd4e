/**
 * ASKAD_DURABILITY=full on a serving SQLite database: a write is acknowledged only once its commit
 * is on disk, so an acknowledged lead survives power loss, not only a crash of the process.
 *
 * SQLite's own way, `synchronous = FULL`, fsyncs the WAL inside every COMMIT, on the thread that
 * serves requests: measured here, a group commit then stalls the event loop ~1.5 ms and ingest loses
 * ~20 %. Instead the connection keeps `synchronous = NORMAL` (crash-safe and consistent after power
 * loss, but the last commits may be lost) and this module syncs the WAL file itself (fdatasync, as
 * SQLite's own syncs on Linux) on a thread-pool thread after the commit, holding the commit's answers
 * until a sync that started after it returns. For what is acknowledged the guarantee is FULL's; one
 * difference remains: for the millisecond or so of its sync, a commit is already visible to reads
 * (another client's GET, the dashboard) that power loss could then take back. Webhooks are not sent
 * for it meanwhile: the dispatcher's claim is itself a group commit, answered after its own sync.
 *
 * A failed sync leaves it unknown what is on disk (and Linux may drop the unwritten pages), so the
 * database stops taking writes until askad is restarted (fail-stop, like PostgreSQL's
 * data_sync_retry=off): writes and /healthz answer 503 naming the I/O error.
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
  /** The first failed sync: every write is refused from then on. */
  failed: Error | null
}

/** Longest wait at shutdown for syncs still running (a hung disk must not keep the process alive). */
const STOP_WAIT_MS = 5_000

const walSyncs = new WeakMap<Db, WalSync>()

/**
 * From now on, `durable(db)` fsyncs the WAL of the file-backed database `db`. Its folder is synced
 * once, so the WAL file itself (created when the database was opened) survives power loss.
 */
export function syncCommits(db: Db): void {
  const mode = db.$client.query<{ journal_mode: string }, []>('PRAGMA journal_mode').get()!.journal_mode
  // No WAL (the switch to it timed out): there is no WAL file to sync, so SQLite syncs every commit itself.
  if (mode !== 'wal') return void db.$client.exec('PRAGMA synchronous = FULL')
  // The file as SQLite opened it: through a symlink (ASKAD_DB=/srv/askad.db → a volume), its WAL is beside the real file.
  const path = db.$client.query<{ file: string }, []>("SELECT file FROM pragma_database_list WHERE name = 'main'").get()!.file
  const dir = openSync(dirname(path), 'r')
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
  walSyncs.set(db, { walPath: `${path}-wal`, fd: null, running: 0, idle: [], waiting: [], syncs: 0, failed: null })
}

/** Resolves once every commit made so far on `db` is on disk; null when the database does not sync commits (answer at once). */
export function durable(db: Db): Promise<void> | null {
  const sync = walSyncs.get(db)
  if (!sync) return null
  if (sync.failed) return Promise.reject(sync.failed)
  return new Promise((resolve, reject) => {
    sync.waiting.push({ resolve, reject })
    if (sync.running < MAX_SYNCS_RUNNING) start(sync)
  })
}

/** The failed sync that stopped the database's writes, or null: checked before a write commits, and by /healthz. */
export function syncFailure(db: Db): Error | null {
  return walSyncs.get(db)?.failed ?? null
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
      // its Idempotency-Key replays the stored answer if it was. Nothing more is written until a restart.
      sync.failed ??= Object.assign(new Error(`sync of ${sync.walPath} failed (${error.message}); restart askad once the disk is checked`), {
        code: 'SQLITE_IOERR_FSYNC',
      })
      for (const caller of batch) caller.reject(sync.failed)
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

/** Waits (bounded) for the running syncs and closes the WAL file handle (the database is closing). */
export async function stopSyncing(db: Db): Promise<void> {
  const sync = walSyncs.get(db)
  if (!sync) return
  if (sync.running > 0) await Promise.race([new Promise<void>((resolve) => sync.idle.push(resolve)), Bun.sleep(STOP_WAIT_MS)])
  walSyncs.delete(db)
  // A sync still hanging keeps its descriptor: closing it under the running call could hand the number to another file.
  if (sync.fd !== null && sync.running === 0) closeSync(sync.fd)
}
