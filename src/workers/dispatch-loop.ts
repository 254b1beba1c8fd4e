/**
 * The dispatcher's `loop`: pumps claimed deliveries through their stages with bounded concurrency.
 * Woken at once after commits that queue deliveries; a timer covers retries and lease expiries.
 * Logs its errors and never dies; stops with a bounded grace, releasing the leases it cuts off.
 */
import type { DispatcherState } from '../deps'
import type { Clock } from '../lib/clock'
import type { Logger } from '../lib/logger'
import type { ClaimedJob, NextWake } from './dispatch-store'

/** Longest sleep between looks at the table, so expired leases and clock jumps are noticed. */
const MAX_IDLE_MS = 30_000
/** Look-again interval while busy, or while due deliveries wait for another process to free its endpoint's slots. */
const BUSY_POLL_MS = 1_000
/** Pause before pumping again when claiming or scheduling failed (a database error), instead of spinning. */
const ERROR_RETRY_MS = 1_000
/** How long stop() lets attempts in flight finish before cutting them off: inside Docker's 10 s stop timeout. */
export const SHUTDOWN_GRACE_MS = 5_000

/** How one claimed delivery's attempt ended: recorded, or cut off by shutdown and its lease released. */
export type DeliveryResult = 'recorded' | 'released'

/** The stages the loop drives (built by createDispatchStages in dispatcher.ts over the storage seam, dispatch-store.ts). */
export interface DispatchStages {
  /** Attempts this process may have in flight. */
  readonly maxInFlight: number
  /** Leases up to `limit()` due deliveries, read when the claim runs (claim.sqlite.ts, claim.pg.ts). */
  claim(limit: () => number): Promise<ClaimedJob[]>
  /**
   * prepare → send → record for one claimed delivery; `signal` cuts the attempt off at shutdown.
   * Calls `sent` once the attempt is over and its record queued, before that write commits.
   */
  deliver(job: ClaimedJob, signal: AbortSignal, sent: () => void): Promise<DeliveryResult>
  /** Gives back the job's slot once its attempt is over. */
  finished(job: ClaimedJob): void
  nextWake(now: number): Promise<NextWake>
  /** Frees the claims of dead local processes and starts calling `wake` when other processes queue deliveries; run once at start. */
  open(wake: () => void): Promise<void>
  /** Tells other processes that deliveries were queued (a commit woke this dispatcher). */
  announce(): void
  /** Stops listening and frees whatever this process still holds; run once, at the end of stop. */
  close(): Promise<void>
}

/** A running dispatcher. */
export interface Dispatcher {
  /** Look for due deliveries now, and tell other processes to (called after a commit that queued some). */
  wake(): void
  /**
   * Stop claiming work and let attempts in flight finish for up to `graceMs` (default SHUTDOWN_GRACE_MS);
   * the ones still running are then aborted, unrecorded, and their leases released so any process resumes them at once.
   */
  stop(graceMs?: number): Promise<void>
  /** What /healthz reports: attempts in flight, and the last error of the loop (e.g. a locked database) if it has not worked since. */
  state(): DispatcherState
}

/** Frees dead processes' leases, then runs the loop over `stages` until stopped. */
export function runDispatchLoop(stages: DispatchStages, deps: { clock: Clock; logger: Logger }): Dispatcher {
  const { clock, logger } = deps
  /** Attempts from their claim until their outcome is written (stop waits for these). */
  const running = new Set<Promise<unknown>>()
  /**
   * Attempts holding one of this process's slots: from their claim until they are sent. A slot is
   * given back as soon as the outcome is queued for writing, not once it is committed: the next claim
   * joins the same or a later commit (SQLite) or still sees the lease (PostgreSQL), and waiting for
   * the commit left the slots idle for a commit each (issue 15).
   */
  let sending = 0
  /** Aborts every attempt still running when the shutdown grace is over. */
  const cutOff = new AbortController()
  let stopping = false
  let pumpQueued = false
  /** The claim under way, if any; a wake-up meanwhile sets `pumpAgain`. */
  let pumping: Promise<void> | undefined
  let pumpAgain = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let lastError: string | null = null

  /** Claims what fits in the free slots and starts sending; each finished attempt pumps again. One claim at a time. */
  function pump(): void {
    if (stopping) return
    if (pumping) {
      pumpAgain = true
      return
    }
    pumping = claimAndSchedule().finally(() => {
      pumping = undefined
      if (pumpAgain) {
        pumpAgain = false
        pump()
      }
    })
  }

  async function claimAndSchedule(): Promise<void> {
    try {
      // Read again when the claim runs: slots given back while it waits for its commit are filled too.
      const free = () => stages.maxInFlight - sending
      if (free() > 0) for (const job of await stages.claim(free)) start(job)
      await scheduleTimer()
      lastError = null
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      // Retried every second: a database locked for minutes is logged once, not once per retry.
      if (message !== lastError) logger.error('webhook.dispatcher_error', { error: message })
      lastError = message
      armTimer(ERROR_RETRY_MS)
    }
  }

  function start(job: ClaimedJob): void {
    let holding = true
    const giveBack = () => {
      if (!holding) return
      holding = false
      sending--
      stages.finished(job)
      wake()
    }
    sending++
    const run: Promise<unknown> = stages
      .deliver(job, cutOff.signal, giveBack)
      .catch((error: unknown) => logger.error('webhook.dispatch_failed', { delivery_id: job.id, error: String(error) }))
      .finally(() => {
        running.delete(run)
        giveBack()
        // Written now: a claim that still counted this lease against its endpoint's cap may take its place.
        wake()
      })
    running.add(run)
  }

  /**
   * While attempts are in flight each one pumps when it ends, so a short fallback timer is enough.
   * Idle, sleep until the earliest retry or lease expiry (at most MAX_IDLE_MS). Deliveries that are
   * due but could not be claimed (their endpoint is at its cap through another process's leases)
   * are looked at again every BUSY_POLL_MS rather than in a tight loop.
   */
  async function scheduleTimer(): Promise<void> {
    if (running.size > 0) return armTimer(BUSY_POLL_MS)
    const now = clock.now()
    const { next, blocked } = await stages.nextWake(now)
    let wait = next == null ? MAX_IDLE_MS : next - now + 1
    if (blocked) wait = Math.min(wait, BUSY_POLL_MS)
    armTimer(Math.min(MAX_IDLE_MS, wait))
  }

  function armTimer(ms: number): void {
    if (stopping) return
    clearTimeout(timer)
    timer = setTimeout(pump, ms)
  }

  function wake(): void {
    if (pumpQueued || stopping) return
    pumpQueued = true
    queueMicrotask(() => {
      pumpQueued = false
      pump()
    })
  }

  stages.open(wake).then(wake, (error: unknown) => {
    logger.error('webhook.dispatcher_error', { error: error instanceof Error ? error.message : String(error) })
    wake()
  })

  return {
    wake() {
      wake()
      stages.announce()
    },
    state: () => ({ running: !stopping, in_flight: sending, last_error: lastError }),
    async stop(graceMs = SHUTDOWN_GRACE_MS) {
      stopping = true
      clearTimeout(timer)
      // A claim under way ends first: what it leased is started, then finished or cut off like the rest.
      await pumping
      let graceTimer: ReturnType<typeof setTimeout> | undefined
      const graceOver = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, graceMs)))
      await Promise.race([Promise.allSettled([...running]), graceOver])
      clearTimeout(graceTimer)
      if (running.size > 0) cutOff.abort()
      await Promise.allSettled([...running])
      await stages
        .close()
        .catch((error: unknown) => logger.error('webhook.dispatcher_error', { error: error instanceof Error ? error.message : String(error) }))
    },
  }
}
