/**
 * Wakes the other nodes' dispatchers when this one queued deliveries: `pg_notify` on one channel,
 * sent after the commit (a NOTIFY inside the transaction would take PostgreSQL's global notify lock
 * at every commit) and coalesced, so a burst of commits costs one notification. Each node LISTENs
 * on the dedicated connection Bun's SQL client keeps for it (reconnected and re-subscribed by the
 * client if it drops); the dispatcher's timer keeps polling as the fallback.
 */
import type { PgDb } from '../db/pg/client'
import type { Logger } from '../lib/logger'

/** The channel every node listens on. */
export const DELIVERIES_CHANNEL = 'askad_deliveries'
/** At most one notification per this many ms from a node: the wake-ups of a burst of commits arrive as one. */
export const NOTIFY_COALESCE_MS = 5
/** Pause before trying to LISTEN again when the database could not be reached at start. */
const LISTEN_RETRY_MS = 5_000

/** Sends and receives the "deliveries were queued" notification. */
export interface Notifier {
  /** Notifies the other nodes soon (within NOTIFY_COALESCE_MS), once for every call until then. */
  announce(): void
  /** Calls `wake` for every other node's notification; resolves once the LISTEN is acknowledged, or failed (then retried every LISTEN_RETRY_MS). */
  listen(wake: () => void): Promise<void>
  /** Stops listening and sends nothing more. */
  close(): Promise<void>
}

/** A notifier on `pg`; `owner` (the node's lease owner id) is the payload, so a node ignores its own notifications. */
export function createNotifier(pg: PgDb, logger: Logger, owner: string): Notifier {
  const sql = pg.$client
  let subscription: { unlisten(): Promise<void> } | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  let retry: ReturnType<typeof setTimeout> | undefined
  let lastSent = Number.NEGATIVE_INFINITY
  let closed = false

  function send(): void {
    timer = undefined
    if (closed) return
    lastSent = performance.now()
    sql.notify(DELIVERIES_CHANNEL, owner).catch((error: unknown) => logger.warn('webhook.notify_failed', { error: String(error) }))
  }

  async function listen(wake: () => void): Promise<void> {
    try {
      subscription = await sql.listen(DELIVERIES_CHANNEL, (payload) => {
        if (payload !== owner) wake()
      })
    } catch (error) {
      // The database is unreachable now: polling covers until a later try succeeds (the client itself re-subscribes after a drop).
      logger.warn('webhook.listen_failed', { error: error instanceof Error ? error.message : String(error), retry_ms: LISTEN_RETRY_MS })
      if (!closed) retry = setTimeout(() => void listen(wake), LISTEN_RETRY_MS)
      return
    }
    // Stopped while the LISTEN was on its way: the dedicated connection would keep the process alive.
    if (closed) await subscription.unlisten()
  }

  return {
    announce() {
      if (timer || closed) return
      timer = setTimeout(send, Math.max(0, lastSent + NOTIFY_COALESCE_MS - performance.now()))
    },
    listen,
    async close() {
      closed = true
      clearTimeout(timer)
      clearTimeout(retry)
      await subscription?.unlisten()
    },
  }
}
