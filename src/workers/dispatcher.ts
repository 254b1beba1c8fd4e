/**
 * The webhook dispatcher: claims due deliveries with a lease, sends them with bounded
 * concurrency, records every attempt and schedules the next. Woken at once after commits that
 * queue deliveries; a timer covers retries. A loop that logs its errors and never dies.
 */
import { hostname } from 'node:os'
import { and, count, eq, inArray, sql } from 'drizzle-orm'
import { events, webhookAttempts, webhookDeliveries, webhookEndpoints } from '../db/schema'
import { writeTx } from '../db/tx'
import type { AppDeps } from '../deps'
import { newId } from '../lib/ids'
import { systemResolver, type HostResolver } from '../lib/ssrf'
import { allowedRanges } from '../modules/webhooks/service'
import { VERSION } from '../version'
import { retryDelayMs } from './retry-policy'
import { ATTEMPT_TIMEOUT_MS, sendAttempt, type AttemptOutcome } from './send-attempt'

/** Attempts in flight in this process. */
export const MAX_IN_FLIGHT = 50
/** Attempts in flight per endpoint, across processes (SPEC §7). */
export const MAX_IN_FLIGHT_PER_ENDPOINT = 10
/** A claim outlives the longest attempt; a crashed process's claims are free again after it. */
export const LEASE_MS = 60_000
/** Longest sleep between looks at the table, so expired leases and clock jumps are noticed. */
export const MAX_IDLE_MS = 30_000
/** No 2xx for this long, and a delivery that used up its retries: the endpoint is disabled. */
export const AUTO_DISABLE_AFTER_MS = 5 * 24 * 60 * 60 * 1000

export interface DispatcherOptions {
  fetch?: typeof fetch
  resolveHost?: HostResolver
  /** [0, 1) for the backoff jitter. */
  random?: () => number
  /** Whole-attempt timeout (default 15 s). */
  attemptTimeoutMs?: number
  leaseMs?: number
  maxInFlight?: number
  maxInFlightPerEndpoint?: number
  /** Identifies this process in `lease_owner`; default host:pid:random. */
  owner?: string
}

export interface Dispatcher {
  /** Look for due deliveries now (called after a commit that queued some). */
  wake(): void
  /** Stop claiming work and wait for attempts in flight. */
  stop(): Promise<void>
  /** Sends everything due at the clock's current time, retries included once due, and resolves when idle; returns the attempts made. */
  runDue(): Promise<number>
}

type Claimed = { id: string }

/** Starts the dispatcher: frees leases of dead local processes, then sends whatever is due. */
export function startDispatcher(deps: AppDeps, options: DispatcherOptions = {}): Dispatcher {
  const { db, clock, logger } = deps
  const fetchFn = options.fetch ?? fetch
  const resolveHost: HostResolver = (host) => (options.resolveHost ?? deps.resolveHost ?? systemResolver)(host)
  const random = options.random ?? Math.random
  const timeoutMs = options.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS
  const leaseMs = options.leaseMs ?? LEASE_MS
  const maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT
  const perEndpoint = options.maxInFlightPerEndpoint ?? MAX_IN_FLIGHT_PER_ENDPOINT
  const owner = options.owner ?? `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`
  const allow = allowedRanges(deps)
  const userAgent = `askad-webhooks/${VERSION}`

  const inFlight = new Set<Promise<void>>()
  let attemptsMade = 0
  let stopping = false
  let pumpQueued = false
  let timer: ReturnType<typeof setTimeout> | undefined

  /** Claims up to `limit` due deliveries, oldest due first, keeping every endpoint under its in-flight cap. */
  function claim(limit: number): Claimed[] {
    const now = clock.now()
    return writeTx(db, (tx) => {
      const rows = tx.all<Claimed>(sql`
        with busy as (
          select endpoint_id, count(*) as n from webhook_deliveries
          where status = 'pending' and lease_until >= ${now} group by endpoint_id
        ), due as (
          select d.id, d.endpoint_id, row_number() over (partition by d.endpoint_id order by d.next_attempt_at, d.id) as rn, d.next_attempt_at
          from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id and e.enabled = 1
          where d.status = 'pending' and d.next_attempt_at <= ${now} and (d.lease_until is null or d.lease_until < ${now})
        )
        select due.id from due left join busy on busy.endpoint_id = due.endpoint_id
        where due.rn + coalesce(busy.n, 0) <= ${perEndpoint}
        order by due.next_attempt_at limit ${limit}`)
      if (rows.length === 0) return rows
      tx.update(webhookDeliveries)
        .set({ leaseUntil: now + leaseMs, leaseOwner: owner })
        .where(inArray(webhookDeliveries.id, rows.map((r) => r.id)))
        .run()
      return rows
    })
  }

  /** Everything one attempt needs, read fresh after the claim. */
  function prepare(deliveryId: string) {
    return db
      .select({ delivery: webhookDeliveries, payload: events.payload, endpoint: webhookEndpoints })
      .from(webhookDeliveries)
      .innerJoin(events, eq(events.id, webhookDeliveries.eventId))
      .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
      .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.leaseOwner, owner)))
      .get()
  }

  async function deliver(deliveryId: string): Promise<void> {
    const job = prepare(deliveryId)
    if (!job) return
    const { delivery, endpoint } = job
    const startedAt = clock.now()
    const secrets = [endpoint.secret]
    if (endpoint.previousSecret && (endpoint.previousSecretExpiresAt ?? 0) > startedAt) secrets.push(endpoint.previousSecret)
    const outcome = await sendAttempt(
      { url: endpoint.url, eventId: delivery.eventId, payload: job.payload, secrets, headers: endpoint.headers },
      { fetch: fetchFn, resolveHost, allow, now: startedAt, timeoutMs, userAgent },
    )
    attemptsMade++
    record(deliveryId, startedAt, outcome)
  }

  /** Writes the attempt, the delivery's new state and the endpoint's health in one transaction. */
  function record(deliveryId: string, startedAt: number, outcome: AttemptOutcome): void {
    const now = clock.now()
    writeTx(db, (tx) => {
      const delivery = tx.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, deliveryId)).get()
      if (!delivery) return // the endpoint was deleted meanwhile
      const endpoint = tx.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, delivery.endpointId)).get()!
      const trigger = delivery.manual ? 'manual' : 'scheduled'
      const scheduledBefore = tx
        .select({ n: count() })
        .from(webhookAttempts)
        .where(and(eq(webhookAttempts.deliveryId, deliveryId), eq(webhookAttempts.trigger, 'scheduled')))
        .get()!.n
      const scheduledAttempts = scheduledBefore + (trigger === 'scheduled' ? 1 : 0)
      const succeeded = outcome.errorClass === null
      const gone = outcome.statusCode === 410
      const failure = { statusCode: outcome.statusCode, timedOut: outcome.errorClass === 'timeout', retryAfterMs: outcome.retryAfterMs }
      // Manual attempts do not use up the schedule; a manual retry of a never-tried delivery counts as the first step.
      const delay = succeeded || gone ? null : retryDelayMs(Math.max(1, scheduledAttempts), failure, random)
      const nextAttemptAt = delay === null ? null : now + delay
      const status = succeeded ? 'succeeded' : nextAttemptAt === null ? 'failed' : 'pending'

      tx.insert(webhookAttempts)
        .values({
          id: newId(),
          deliveryId,
          attempt: delivery.attemptCount + 1,
          trigger,
          startedAt,
          durationMs: outcome.durationMs,
          statusCode: outcome.statusCode,
          errorClass: outcome.errorClass,
          errorMessage: outcome.errorMessage,
          responseBody: outcome.responseBody,
          nextAttemptAt,
        })
        .run()
      tx.update(webhookDeliveries)
        .set({
          status,
          attemptCount: delivery.attemptCount + 1,
          nextAttemptAt,
          leaseUntil: null,
          leaseOwner: null,
          manual: false,
          lastStatusCode: outcome.statusCode,
          lastError: outcome.errorMessage,
          updatedAt: now,
        })
        .where(eq(webhookDeliveries.id, deliveryId))
        .run()
      logger.debug('webhook.attempt', {
        delivery_id: deliveryId,
        endpoint_id: endpoint.id,
        attempt: delivery.attemptCount + 1,
        trigger,
        status_code: outcome.statusCode,
        error_class: outcome.errorClass,
        duration_ms: outcome.durationMs,
        next_attempt_at: nextAttemptAt,
      })

      if (succeeded) {
        tx.update(webhookEndpoints).set({ lastSuccessAt: now, failingSince: null }).where(eq(webhookEndpoints.id, endpoint.id)).run()
        return
      }
      const failingSince = endpoint.failingSince ?? startedAt
      let disabledReason: string | null = null
      if (gone) disabledReason = 'The receiver answered 410 Gone.'
      else if (status === 'failed' && now - failingSince >= AUTO_DISABLE_AFTER_MS) disabledReason = 'No successful delivery for 5 days.'
      if (disabledReason && endpoint.enabled) {
        tx.update(webhookEndpoints).set({ enabled: false, disabledReason, failingSince, updatedAt: now }).where(eq(webhookEndpoints.id, endpoint.id)).run()
        logger.warn('webhook.disabled', { endpoint_id: endpoint.id, workspace_id: endpoint.workspaceId, reason: disabledReason })
      } else if (endpoint.failingSince === null) {
        tx.update(webhookEndpoints).set({ failingSince }).where(eq(webhookEndpoints.id, endpoint.id)).run()
      }
    })
  }

  /** Claims what fits in the free slots and starts sending; each finished attempt pumps again. */
  function pump(): void {
    if (stopping) return
    try {
      const free = maxInFlight - inFlight.size
      if (free > 0) {
        for (const { id } of claim(free)) {
          const run: Promise<void> = deliver(id)
            .catch((error: unknown) => logger.error('webhook.dispatch_failed', { delivery_id: id, error: String(error) }))
            .finally(() => {
              inFlight.delete(run)
              wake()
            })
          inFlight.add(run)
        }
      }
      scheduleTimer()
    } catch (error) {
      logger.error('webhook.dispatcher_error', { error: error instanceof Error ? error.message : String(error) })
      armTimer(1_000)
    }
  }

  /** Sleeps until the earliest due delivery or lease expiry (at most MAX_IDLE_MS). */
  function scheduleTimer(): void {
    const next = db
      .select({ due: sql<number | null>`min(max(coalesce(${webhookDeliveries.nextAttemptAt}, 0), coalesce(${webhookDeliveries.leaseUntil}, 0)))` })
      .from(webhookDeliveries)
      .innerJoin(webhookEndpoints, and(eq(webhookEndpoints.id, webhookDeliveries.endpointId), eq(webhookEndpoints.enabled, true)))
      .where(eq(webhookDeliveries.status, 'pending'))
      .get()?.due
    armTimer(next == null ? MAX_IDLE_MS : Math.min(MAX_IDLE_MS, Math.max(0, next - clock.now() + 1)))
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

  /** Frees the claims of processes on this host that no longer run (kill -9, crash), so their work resumes at once. */
  function releaseDeadLeases(): void {
    const [host] = owner.split(':')
    const holders = db.selectDistinct({ owner: webhookDeliveries.leaseOwner }).from(webhookDeliveries).where(sql`${webhookDeliveries.leaseOwner} is not null`).all()
    const dead = holders.map((h) => h.owner!).filter((other) => other !== owner && isDeadLocalOwner(other, host!))
    if (dead.length === 0) return
    db.update(webhookDeliveries).set({ leaseUntil: null, leaseOwner: null }).where(inArray(webhookDeliveries.leaseOwner, dead)).run()
    logger.info('webhook.leases_released', { owners: dead })
  }

  releaseDeadLeases()
  wake()

  return {
    wake,
    async stop() {
      stopping = true
      clearTimeout(timer)
      await Promise.allSettled([...inFlight])
    },
    async runDue() {
      const before = attemptsMade
      for (;;) {
        pump()
        if (inFlight.size === 0) break
        await Promise.allSettled([...inFlight])
      }
      clearTimeout(timer)
      return attemptsMade - before
    },
  }
}

/** True when `owner` (host:pid:tag) names a process of this host that has exited. */
function isDeadLocalOwner(owner: string, host: string): boolean {
  const [ownerHost, pidText] = owner.split(':')
  const pid = Number(pidText)
  if (ownerHost !== host || !Number.isInteger(pid) || pid <= 0) return false
  // Same pid, other tag: an earlier incarnation of this process id (e.g. pid 1 in a restarted container).
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}
