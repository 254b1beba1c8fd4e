/**
 * The retention pruner: deletes webhook history older than ASKAD_RETENTION_DAYS once every delivery
 * of its event is settled (events, with their deliveries, attempts and stored response bodies), and
 * expired idempotency keys and dashboard sessions. Small transactions with a yield between them keep
 * it off the hot path; freed pages are reused, so the file stops growing once past the retention.
 * Leads and contacts are never pruned. A loop that logs its errors and never dies. The SQL is behind
 * a small seam chosen by `deps.pg`: retention.sqlite.ts, retention.pg.ts.
 */
import type { AppDeps } from '../deps'
import { pgRetentionStore } from './retention.pg'
import { sqliteRetentionStore } from './retention.sqlite'

/** Events looked at per transaction; each takes its deliveries and attempts with it (a few rows each). */
export const RETENTION_BATCH_EVENTS = 200
/** Expired idempotency keys or sessions deleted per transaction. */
export const RETENTION_BATCH_ROWS = 500
/** How often to prune: often enough that a day's history never piles up, rarely enough to cost nothing. */
const PRUNE_INTERVAL_MS = 10 * 60_000
/** Short retentions (tests, benchmarks) prune this many times per retention period, but never more than once a second. */
const PRUNES_PER_RETENTION = 4
const MIN_PRUNE_INTERVAL_MS = 1_000
const DAY_MS = 24 * 60 * 60 * 1000

export interface RetentionOptions {
  /** Events per transaction (default RETENTION_BATCH_EVENTS). */
  batchEvents?: number
  /** Expired rows per transaction (default RETENTION_BATCH_ROWS). */
  batchRows?: number
}

/** Rows deleted by one pass (deliveries and attempts go with their events). */
export interface Pruned {
  events: number
  idempotencyKeys: number
  sessions: number
}

/** Where an event stands in insertion order: the retention walk's cursor. */
export type EventCursor = number | string

/** The retention worker's SQL; every delete is a small transaction of its own. */
export interface RetentionStore {
  /** The next events in insertion order after `after` (from the first when null), at most one batch: their cursor and creation time. */
  eventWindow(after: EventCursor | null): Promise<{ cursor: EventCursor; createdAt: number }[]>
  /** Deletes the events after `after` up to `last` created before `cutoff` none of whose deliveries is pending; resolves with how many. */
  deleteSettledEvents(after: EventCursor | null, last: EventCursor, cutoff: number): Promise<number>
  /** Deletes up to one batch of idempotency keys expired at `now`; resolves with how many. */
  deleteExpiredIdempotency(now: number): Promise<number>
  /** Deletes up to one batch of sessions expired at `now`; resolves with how many. */
  deleteExpiredSessions(now: number): Promise<number>
}

export interface Retention {
  /** Prunes everything due at the clock's current time, batch by batch; resolves with what went. */
  runOnce(): Promise<Pruned>
  /** Stops the timer and waits for a pass under way to end (it stops between batches). */
  stop(): Promise<void>
}

/** Starts pruning on a timer; the first pass runs one interval after start. */
export function startRetention(deps: Pick<AppDeps, 'db' | 'pg' | 'clock' | 'logger' | 'config'>, options: RetentionOptions = {}): Retention {
  const { clock, logger, config } = deps
  const retentionMs = config.retentionDays * DAY_MS
  const intervalMs = Math.min(PRUNE_INTERVAL_MS, Math.max(MIN_PRUNE_INTERVAL_MS, retentionMs / PRUNES_PER_RETENTION))
  const batchRows = options.batchRows ?? RETENTION_BATCH_ROWS
  const batchEvents = options.batchEvents ?? RETENTION_BATCH_EVENTS
  const store = deps.pg ? pgRetentionStore(deps.pg, batchEvents, batchRows) : sqliteRetentionStore(deps.db, batchEvents, batchRows)
  let stopping = false
  let running: Promise<Pruned> | undefined
  let timer: ReturnType<typeof setTimeout> | undefined

  async function pass(): Promise<Pruned> {
    const pruned: Pruned = { events: 0, idempotencyKeys: 0, sessions: 0 }
    const cutoff = clock.now() - retentionMs
    // Events are read in insertion order, one window at a time, up to the first one still retained.
    let after: EventCursor | null = null
    while (!stopping) {
      const window = await store.eventWindow(after)
      if (window.length === 0) break
      const last = window.at(-1)!.cursor
      pruned.events += await store.deleteSettledEvents(after, last, cutoff)
      if (window.some((e) => e.createdAt >= cutoff)) break
      after = last
      await yieldToRequests()
    }
    pruned.idempotencyKeys = await deleteExpired(store.deleteExpiredIdempotency)
    pruned.sessions = await deleteExpired(store.deleteExpiredSessions)
    return pruned
  }

  /** Runs a batch delete of expired rows until a batch comes back short. */
  async function deleteExpired(deleteBatch: (now: number) => Promise<number>): Promise<number> {
    const now = clock.now()
    let total = 0
    while (!stopping) {
      const deleted = await deleteBatch(now)
      total += deleted
      if (deleted < batchRows) break
      await yieldToRequests()
    }
    return total
  }

  function runOnce(): Promise<Pruned> {
    running ??= pass().finally(() => (running = undefined))
    return running
  }

  function schedule(): void {
    if (stopping) return
    timer = setTimeout(async () => {
      try {
        const pruned = await runOnce()
        if (pruned.events + pruned.idempotencyKeys + pruned.sessions > 0) {
          logger.info('retention.pruned', { events: pruned.events, idempotency_keys: pruned.idempotencyKeys, sessions: pruned.sessions })
        }
      } catch (error) {
        logger.error('retention.failed', { error: error instanceof Error ? error.message : String(error) })
      }
      schedule()
    }, intervalMs)
  }

  schedule()
  return {
    runOnce,
    async stop() {
      stopping = true
      clearTimeout(timer)
      await running?.catch(() => {})
    },
  }
}

/** Lets requests and the dispatcher run between two batches. */
function yieldToRequests(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
