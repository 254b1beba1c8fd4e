/** When a failed webhook delivery is tried again (SPEC §7): the schedule, jitter, Retry-After and their floors and caps. */

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE

/** Waits after scheduled attempt 1, 2, …: about 3 days in all, like Stripe. */
export const DELIVERY_BACKOFF_MS = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR] as const
/** Scheduled attempts before a delivery is `failed`: the first one plus one per backoff step. */
export const MAX_SCHEDULED_ATTEMPTS = DELIVERY_BACKOFF_MS.length + 1
/** Each wait is scaled by a random factor in [1 − JITTER, 1 + JITTER]. */
const BACKOFF_JITTER = 0.2
/** A timeout or a 429 waits at least this long. */
export const MIN_WAIT_AFTER_TIMEOUT_OR_429_MS = 60 * SECOND
/** A receiver's Retry-After may stretch a wait by at most this much beyond the schedule. */
const MAX_RETRY_AFTER_EXTENSION_MS = 2 * HOUR

export interface FailureFacts {
  statusCode: number | null
  timedOut: boolean
  /** Retry-After of a 429 or 503, in ms from now. */
  retryAfterMs: number | null
}

/**
 * The wait before the next attempt after `scheduledAttempts` scheduled attempts have failed,
 * or null when none is left. `random` returns [0, 1) and drives the jitter.
 */
export function retryDelayMs(scheduledAttempts: number, failure: FailureFacts, random: () => number): number | null {
  if (scheduledAttempts >= MAX_SCHEDULED_ATTEMPTS) return null
  const base = DELIVERY_BACKOFF_MS[Math.max(0, scheduledAttempts - 1)]!
  let delay = Math.round(base * (1 - BACKOFF_JITTER + 2 * BACKOFF_JITTER * random()))
  const throttled = failure.statusCode === 429 || failure.statusCode === 503
  if (throttled && failure.retryAfterMs !== null) delay = Math.min(Math.max(delay, failure.retryAfterMs), delay + MAX_RETRY_AFTER_EXTENSION_MS)
  if (failure.timedOut || failure.statusCode === 429) delay = Math.max(delay, MIN_WAIT_AFTER_TIMEOUT_OR_429_MS)
  return delay
}

/** Parses Retry-After (delay-seconds or an HTTP date) into ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number): number | null {
  if (!header) return null
  const text = header.trim()
  if (/^\d+$/.test(text)) return Number(text) * SECOND
  const date = Date.parse(text)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}
