/** The checks a webhook write depends on, run by both stores inside the write's transaction, so both engines refuse alike. */
import { ApiError } from '../../errors'
import type { Delivery, Endpoint } from './store'

/**
 * An endpoint's `max_in_flight`: attempts sent to it at once, across all processes. The default is
 * SPEC §7's; a receiver that can take more may be given more (up to the maximum), a fragile one less.
 * The column's default in db/schema.ts and db/pg/schema.ts is the same number.
 */
export const ENDPOINT_MAX_IN_FLIGHT = { default: 10, min: 1, max: 100 } as const

/** 422 when the workspace already has as many endpoints as ASKAD_WEBHOOK_MAX_ENDPOINTS allows. */
export function assertRoomForEndpoint(limit: number, count: number): void {
  if (count < limit) return
  const message = `a workspace can have at most ${limit} webhook endpoints (ASKAD_WEBHOOK_MAX_ENDPOINTS); delete one first`
  throw new ApiError('validation_failed', `Webhook endpoint limit reached: ${message}.`, [{ path: '', message }])
}

/** 409 for a disabled endpoint: nothing is sent to it until it is enabled again. */
export function assertEnabled(endpoint: Endpoint): void {
  if (!endpoint.enabled) throw new ApiError('conflict', `Webhook endpoint '${endpoint.id}' is disabled; enable it (PATCH {"enabled": true}) first.`)
}

/** 409 while a dispatcher holds a live lease on the delivery. */
export function assertNoAttemptInFlight(delivery: Delivery, now: number): void {
  if (delivery.leaseUntil !== null && delivery.leaseUntil > now)
    throw new ApiError('conflict', `Delivery '${delivery.id}' has an attempt in flight; try again shortly.`)
}

/** A delivery requeued for a manual attempt now. */
export function requeue(now: number) {
  return { status: 'pending' as const, manual: true, nextAttemptAt: now, updatedAt: now }
}
