/**
 * The dispatcher's `decide` stage: what one finished attempt changes (SPEC §7). Pure: no SQL, no
 * sockets, no clock of its own; the recorder reads the state, calls `decide` and writes its answer.
 */
import type { AttemptErrorClass, AttemptTrigger, DeliveryStatus } from '../db/schema'
import { retryDelayMs } from './retry-policy'

/** No 2xx for this long, and a delivery that used up its retries: the endpoint is disabled. */
export const AUTO_DISABLE_AFTER_MS = 5 * 24 * 60 * 60 * 1000
/** The reasons an endpoint shows when askad disabled it. */
export const DISABLED_GONE = 'The receiver answered 410 Gone.'
export const DISABLED_FAILING = 'No successful delivery for 5 days.'

/** A delivery and its endpoint as stored when the attempt is recorded. */
export interface DeliveryState {
  /** Attempts recorded so far, manual ones included. */
  attemptCount: number
  /** The attempt was queued by hand (retry or recover). */
  manual: boolean
  /** Scheduled attempts recorded so far (manual ones do not use up the schedule). */
  scheduledBefore: number
  endpointEnabled: boolean
  /** Start of the endpoint's current run without a 2xx; null while healthy. */
  failingSince: number | null
  lastSuccessAt: number | null
}

/** What an attempt found out, as decide needs it. */
export interface AttemptFacts {
  startedAt: number
  statusCode: number | null
  errorClass: AttemptErrorClass | null
  /** Retry-After of the answer, in ms from now. */
  retryAfterMs: number | null
}

/** What happens to the endpoint's health. */
export type EndpointChange =
  /** A 2xx: the health clock starts again. */
  | { kind: 'healthy'; lastSuccessAt: number }
  /** The first failure since the last success. */
  | { kind: 'failing'; failingSince: number }
  | { kind: 'disabled'; reason: string; failingSince: number }

/** The changes one attempt makes: the attempt's log entry, the delivery's new state, the endpoint's health. */
export interface Decision {
  /** This attempt's number: 1 for the first, counting manual ones. */
  attempt: number
  trigger: AttemptTrigger
  status: DeliveryStatus
  /** When the delivery is tried again; null when it will not be. */
  nextAttemptAt: number | null
  /** null when the endpoint's row stays as it is. */
  endpoint: EndpointChange | null
}

/** Decides what an attempt that ended at `now` changes; `random` returns [0, 1) and drives the retry jitter. */
export function decide(state: DeliveryState, facts: AttemptFacts, now: number, random: () => number): Decision {
  const trigger: AttemptTrigger = state.manual ? 'manual' : 'scheduled'
  const attempt = state.attemptCount + 1
  if (facts.errorClass === null) {
    // A burst of successes to one endpoint within the same millisecond needs one write, not one each.
    const unchanged = state.failingSince === null && state.lastSuccessAt === now
    return { attempt, trigger, status: 'succeeded', nextAttemptAt: null, endpoint: unchanged ? null : { kind: 'healthy', lastSuccessAt: now } }
  }
  const gone = facts.statusCode === 410
  const scheduledAttempts = state.scheduledBefore + (trigger === 'scheduled' ? 1 : 0)
  const failure = { statusCode: facts.statusCode, timedOut: facts.errorClass === 'timeout', retryAfterMs: facts.retryAfterMs }
  // Manual attempts do not use up the schedule; a manual retry of a never-tried delivery counts as the first step.
  const delay = gone ? null : retryDelayMs(Math.max(1, scheduledAttempts), failure, random)
  const nextAttemptAt = delay === null ? null : now + delay
  const status: DeliveryStatus = nextAttemptAt === null ? 'failed' : 'pending'
  return { attempt, trigger, status, nextAttemptAt, endpoint: endpointAfterFailure(state, facts.startedAt, now, gone, status) }
}

/** A failure starts the endpoint's failing clock; a 410, or a delivery out of retries after 5 days without a 2xx, disables it. */
function endpointAfterFailure(state: DeliveryState, startedAt: number, now: number, gone: boolean, status: DeliveryStatus): EndpointChange | null {
  const failingSince = state.failingSince ?? startedAt
  let reason: string | null = null
  if (gone) reason = DISABLED_GONE
  else if (status === 'failed' && now - failingSince >= AUTO_DISABLE_AFTER_MS) reason = DISABLED_FAILING
  if (reason && state.endpointEnabled) return { kind: 'disabled', reason, failingSince }
  return state.failingSince === null ? { kind: 'failing', failingSince } : null
}
