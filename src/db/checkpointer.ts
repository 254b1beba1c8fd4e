/**
 * WAL checkpoints off the serving thread. SQLite checkpoints inside the COMMIT that makes the WAL
 * pass `wal_autocheckpoint` pages: it copies those pages into the database file and fsyncs twice, on
 * the thread that serves requests. Profiled under ingest that was half of the commit time (~20 µs
 * per lead). Here a worker thread with its own connection makes PASSIVE checkpoints shortly after
 * commits instead, on the other core; they never wait for, nor block, the serving thread's writes.
 *
 * A PASSIVE checkpoint cannot restart the WAL while writes keep coming, so the serving connection
 * keeps an automatic checkpoint at FALLBACK_CHECKPOINT_PAGES: by then the worker has copied nearly
 * everything, the inline checkpoint has little left to do, and the WAL starts over. If the worker
 * fails, the serving connection goes back to SQLite's default and nothing else changes.
 */
import type { Db } from './client'
import type { Logger } from '../lib/logger'

export type CheckpointRequest = { type: 'open'; path: string } | { type: 'checkpoint' } | { type: 'close' }
export type CheckpointReply =
  | { type: 'opened' }
  | { type: 'checkpointed'; frames: number; copied: number }
  | { type: 'failed'; message: string }
  | { type: 'closed' }

/** Pause between a commit and the checkpoint it asks for: commits in the meantime share it. */
const CHECKPOINT_DELAY_MS = 50
/** WAL pages (4 KiB) after which the serving connection checkpoints itself (what is left once the worker has copied the rest). */
const FALLBACK_CHECKPOINT_PAGES = 4_000
/** SQLite's default `wal_autocheckpoint`, put back when the worker is gone. */
const SQLITE_DEFAULT_CHECKPOINT_PAGES = 1_000
/** Longest wait for the worker to close its connection at shutdown. */
const CLOSE_TIMEOUT_MS = 2_000

/**
 * The worker's module. Run from source, it is the file beside this one. In the executable,
 * import.meta.url is this file's path on the machine that built it (nothing there where it runs, or
 * whatever someone put there since): the worker is the entry point package.json's build embeds, which
 * Bun names after its path under src/. An absolute /$bunfs/ path is never looked for on disk.
 */
function workerUrl(): string {
  if (Bun.isStandaloneExecutable) return new URL('./db/checkpoint-worker.ts', `file://${Bun.main}`).href
  return new URL('./checkpoint-worker.ts', import.meta.url).href
}

export interface Checkpointer {
  stop(): Promise<void>
}

const notifiers = new WeakMap<Db, () => void>()
const checkpoints = new WeakMap<Db, number>()

/** Tells the database's checkpointer, if it has one, that a write committed. */
export function committed(db: Db): void {
  notifiers.get(db)?.()
}

/** Checkpoints the worker thread has made on the database (shown in /metrics). */
export function checkpointCount(db: Db): number {
  return checkpoints.get(db) ?? 0
}

/** Starts checkpointing the WAL of the file-backed database at `path` on a worker thread. */
export function startCheckpointer(db: Db, path: string, logger: Logger): Checkpointer {
  const worker = new Worker(workerUrl())
  let running = false
  let scheduled: ReturnType<typeof setTimeout> | null = null
  let dirty = false
  let failed = false
  let onClosed: (() => void) | null = null
  /** The failure last logged, until a checkpoint succeeds. */
  let reported: string | null = null

  const giveUp = (why: string) => {
    if (failed) return
    failed = true
    notifiers.delete(db)
    db.$client.exec(`PRAGMA wal_autocheckpoint = ${SQLITE_DEFAULT_CHECKPOINT_PAGES}`)
    logger.warn('checkpoint thread failed; the server checkpoints the WAL itself', { error: why })
    worker.terminate()
  }
  const checkpoint = () => {
    scheduled = null
    if (failed || running) return
    running = true
    dirty = false
    worker.postMessage({ type: 'checkpoint' } satisfies CheckpointRequest)
  }
  const request = () => {
    dirty = true
    if (!running && !scheduled) scheduled = setTimeout(checkpoint, CHECKPOINT_DELAY_MS)
  }

  worker.onmessage = (event: MessageEvent<CheckpointReply>) => {
    const reply = event.data
    if (reply.type === 'closed') return onClosed?.()
    if (reply.type === 'opened') {
      db.$client.exec(`PRAGMA wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`)
      notifiers.set(db, request)
      return
    }
    running = false
    if (reply.type === 'checkpointed') {
      checkpoints.set(db, checkpointCount(db) + 1)
      reported = null
    }
    // A checkpoint of the serving thread's own was running (SQLITE_BUSY): simply the next one's turn.
    // Any other failure is logged once until a checkpoint succeeds again, not every few milliseconds.
    if (reply.type === 'failed' && !/busy|locked/i.test(reply.message) && reported !== reply.message) {
      reported = reply.message
      logger.warn('WAL checkpoint failed', { error: reply.message })
    }
    if (dirty) request()
  }
  worker.addEventListener('error', (event) => giveUp(event.message))
  worker.postMessage({ type: 'open', path } satisfies CheckpointRequest)
  // The thread must not keep a server that is shutting down alive.
  ;(worker as Worker & { unref(): void }).unref()

  return {
    async stop() {
      notifiers.delete(db)
      if (scheduled) clearTimeout(scheduled)
      if (failed) return
      const closed = new Promise<void>((resolve) => (onClosed = resolve))
      worker.postMessage({ type: 'close' } satisfies CheckpointRequest)
      await Promise.race([closed, Bun.sleep(CLOSE_TIMEOUT_MS)])
      worker.terminate()
    },
  }
}
