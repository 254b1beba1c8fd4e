/**
 * The webhook dispatcher: claims due deliveries with a lease, sends them with bounded
 * concurrency, records every attempt and schedules the next. Woken at once after commits that
 * queue deliveries; a timer covers retries. A loop that logs its errors and never dies.
 */
import { hostname } from 'node:os'
import { eq, inArray, sql } from 'drizzle-orm'
import { webhookDeliveries, webhookEndpoints } from '../db/schema'
import { writeTx } from '../db/tx'
import type { AppDeps } from '../deps'
import { newId } from '../lib/ids'
import { systemResolver, type HostResolver } from '../lib/ssrf'
import { createSecretBox } from '../lib/secret-box'
import { openHeaders } from '../modules/webhooks/at-rest'
import { allowedRanges } from '../modules/webhooks/service'
import { VERSION } from '../version'
import { dispatchStatements, type JobRow } from './dispatch-sql'
import { InFlightShares } from './fair-share'
import { retryDelayMs } from './retry-policy'
import { ATTEMPT_TIMEOUT_MS, CONNECT_TIMEOUT_MS, sendAttempt, tcpProbe, type AttemptOutcome, type TcpProbe } from './send-attempt'

/** Attempts in flight in this process. */
export const MAX_IN_FLIGHT = 50
/** Attempts in flight per endpoint, across processes (SPEC §7). */
export const MAX_IN_FLIGHT_PER_ENDPOINT = 10
/** A claim outlives the longest attempt; a crashed process's claims are free again after it. */
const LEASE_MS = 60_000
/** Longest sleep between looks at the table, so expired leases and clock jumps are noticed. */
const MAX_IDLE_MS = 30_000
/** Look-again interval while busy, or while due deliveries wait for another process to free its endpoint's slots. */
const BUSY_POLL_MS = 1_000
/** Pause before pumping again when claiming or scheduling failed (a database error), instead of spinning. */
const ERROR_RETRY_MS = 1_000
/** How long stop() lets attempts in flight finish before cutting them off: inside Docker's 10 s stop timeout. */
export const SHUTDOWN_GRACE_MS = 5_000
/** No 2xx for this long, and a delivery that used up its retries: the endpoint is disabled. */
const AUTO_DISABLE_AFTER_MS = 5 * 24 * 60 * 60 * 1000

export interface DispatcherOptions {
  fetch?: typeof fetch
  resolveHost?: HostResolver
  /** [0, 1) for the backoff jitter. */
  random?: () => number
  /** Whole-attempt timeout (default 15 s). */
  attemptTimeoutMs?: number
  connectTimeoutMs?: number
  /** How connections to endpoints without a recent success are tested (tests inject a slow one). */
  connect?: TcpProbe
  leaseMs?: number
  maxInFlight?: number
  maxInFlightPerEndpoint?: number
  /** Identifies this process in `lease_owner`; default host:pid:random. */
  owner?: string
}

export interface Dispatcher {
  /** Look for due deliveries now (called after a commit that queued some). */
  wake(): void
  /**
   * Stop claiming work and let attempts in flight finish for up to `graceMs` (default SHUTDOWN_GRACE_MS);
   * the ones still running are then aborted, unrecorded, and their leases released so any process resumes them at once.
   */
  stop(graceMs?: number): Promise<void>
  /** Sends everything due at the clock's current time, retries included once due, and resolves when idle; returns the attempts made. */
  runDue(): Promise<number>
  /** What /healthz reports: attempts in flight, and the last error of the loop (e.g. a locked database) if it has not worked since. */
  state(): DispatcherState
}

export interface DispatcherState {
  running: boolean
  in_flight: number
  last_error: string | null
}

/** Starts the dispatcher: frees leases of dead local processes, then sends whatever is due. */
export function startDispatcher(deps: AppDeps, options: DispatcherOptions = {}): Dispatcher {
  const { db, clock, logger } = deps
  const fetchFn = options.fetch ?? fetch
  const resolveHost: HostResolver = (host) => (options.resolveHost ?? deps.resolveHost ?? systemResolver)(host)
  const random = options.random ?? Math.random
  const timeoutMs = options.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS
  const connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
  const connect = options.connect ?? tcpProbe
  const leaseMs = options.leaseMs ?? LEASE_MS
  const maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT
  const perEndpoint = options.maxInFlightPerEndpoint ?? MAX_IN_FLIGHT_PER_ENDPOINT
  const owner = options.owner ?? `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`
  const allow = allowedRanges(deps)
  const box = createSecretBox(deps.config.secretKey)
  const userAgent = `askad-webhooks/${VERSION}`

  const inFlight = new Set<Promise<void>>()
  /** Aborts every attempt still running when the shutdown grace is over. */
  const cutOff = new AbortController()
  let attemptsMade = 0
  let stopping = false
  let pumpQueued = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let lastError: string | null = null

  const stmt = dispatchStatements(db)
  const shares = new InFlightShares(maxInFlight, perEndpoint)

  /**
   * Claims up to `limit` due deliveries, oldest due first within each endpoint's fair share of the
   * slots (see fair-share.ts), keeping every endpoint under its in-flight cap across processes;
   * returns what their attempts need, read in the same transaction.
   */
  function claim(limit: number): JobRow[] {
    const now = clock.now()
    return writeTx(db, () => {
      const workspaceOf = new Map(stmt.enabledEndpoints.all().map((e) => [e.id, e.workspace_id]))
      const free = new Map([...workspaceOf.keys()].map((id) => [id, perEndpoint]))
      for (const { endpoint_id, n } of stmt.leasedPerEndpoint.all({ now })) if (free.has(endpoint_id)) free.set(endpoint_id, perEndpoint - n)
      const endpointsPerWorkspace = new Map<string, number>()
      for (const workspaceId of workspaceOf.values()) endpointsPerWorkspace.set(workspaceId, (endpointsPerWorkspace.get(workspaceId) ?? 0) + 1)
      const claimants = { workspaces: endpointsPerWorkspace.size, endpointsOf: (id: string) => endpointsPerWorkspace.get(id) ?? 0 }
      const room = (endpointId: string) => Math.min(free.get(endpointId)!, shares.room(workspaceOf.get(endpointId)!, endpointId, claimants))
      const open = [...workspaceOf.keys()].filter((id) => room(id) > 0)
      if (limit <= 0 || open.length === 0) return []
      const claimed: { id: string; endpointId: string }[] = []
      try {
        for (const row of stmt.dueOldestFirst.iterate({ now, endpoints: JSON.stringify(open) })) {
          if (room(row.endpoint_id) <= 0) continue
          free.set(row.endpoint_id, free.get(row.endpoint_id)! - 1)
          shares.add(workspaceOf.get(row.endpoint_id)!, row.endpoint_id)
          claimed.push({ id: row.id, endpointId: row.endpoint_id })
          if (claimed.length === limit || open.every((id) => room(id) <= 0)) break
        }
        if (claimed.length === 0) return []
        const json = JSON.stringify(claimed.map((c) => c.id))
        stmt.lease.run({ ids: json, until: now + leaseMs, owner })
        const jobs = new Map(stmt.jobs.all({ ids: json }).map((job) => [job.id, job]))
        return claimed.map((c) => jobs.get(c.id)!)
      } catch (error) {
        for (const c of claimed) shares.remove(workspaceOf.get(c.endpointId)!, c.endpointId)
        throw error
      }
    })
  }

  async function deliver(job: JobRow): Promise<void> {
    const startedAt = clock.now()
    const secrets = [box.open(job.secret)]
    if (job.previous_secret && (job.previous_secret_expires_at ?? 0) > startedAt) secrets.push(box.open(job.previous_secret))
    const headers = openHeaders(box, JSON.parse(job.headers) as Record<string, string>)
    const outcome = await sendAttempt(
      { url: job.url, eventId: job.event_id, payload: job.payload, secrets, headers, probeConnect: job.unproven === 1 },
      { fetch: fetchFn, resolveHost, allow, now: startedAt, timeoutMs, connectTimeoutMs, connect, userAgent, signal: cutOff.signal },
    )
    // Cut off by shutdown: not the receiver's fault, so no attempt is recorded and the next process sends it again.
    if (cutOff.signal.aborted) return releaseLease(job.id)
    attemptsMade++
    await recordSoon({ deliveryId: job.id, startedAt, outcome })
  }

  type Finished = { deliveryId: string; startedAt: number; outcome: AttemptOutcome }
  const finished: (Finished & { written: () => void })[] = []
  let flushQueued = false

  /** Queues an outcome for the next batched write; resolves once that write is over. */
  function recordSoon(result: Finished): Promise<void> {
    return new Promise((written) => {
      finished.push({ ...result, written })
      if (flushQueued) return
      flushQueued = true
      setImmediate(flush)
    })
  }

  /**
   * Writes every outcome that finished since the last flush in one transaction (one commit per
   * burst instead of one per attempt); if that fails, one by one, so a bad row holds back no other.
   */
  function flush(): void {
    flushQueued = false
    const batch = finished.splice(0)
    let logs: (() => void)[] = []
    try {
      logs = writeTx(db, () => batch.map(record))
    } catch {
      logs = []
      for (const result of batch) {
        try {
          logs.push(writeTx(db, () => record(result)))
        } catch (error) {
          logger.error('webhook.record_failed', { delivery_id: result.deliveryId, error: error instanceof Error ? error.message : String(error) })
        }
      }
    }
    logs.forEach((log) => log())
    batch.forEach((result) => result.written())
  }

  /** Writes the attempt, the delivery's new state and the endpoint's health; returns what to log once committed. */
  function record({ deliveryId, startedAt, outcome }: Finished): () => void {
    const now = clock.now()
    const state = stmt.state.get({ id: deliveryId })
    if (!state) return () => {} // the endpoint was deleted meanwhile
    const trigger = state.manual ? 'manual' : 'scheduled'
    const scheduledAttempts = state.scheduled_before + (trigger === 'scheduled' ? 1 : 0)
    const succeeded = outcome.errorClass === null
    const gone = outcome.statusCode === 410
    const failure = { statusCode: outcome.statusCode, timedOut: outcome.errorClass === 'timeout', retryAfterMs: outcome.retryAfterMs }
    // Manual attempts do not use up the schedule; a manual retry of a never-tried delivery counts as the first step.
    const delay = succeeded || gone ? null : retryDelayMs(Math.max(1, scheduledAttempts), failure, random)
    const nextAttemptAt = delay === null ? null : now + delay
    const status = succeeded ? 'succeeded' : nextAttemptAt === null ? 'failed' : 'pending'
    const attempt = state.attempt_count + 1
    const endpointId = state.endpoint_id

    stmt.insertAttempt.run({
      id: newId(),
      delivery_id: deliveryId,
      attempt,
      trigger,
      started_at: startedAt,
      duration_ms: outcome.durationMs,
      status_code: outcome.statusCode,
      error_class: outcome.errorClass,
      error_message: outcome.errorMessage,
      response_body: outcome.responseBody,
      next_attempt_at: nextAttemptAt,
    })
    stmt.settle.run({ id: deliveryId, status, attempt_count: attempt, next_attempt_at: nextAttemptAt, last_status_code: outcome.statusCode, last_error: outcome.errorMessage, now })
    const logAttempt = () =>
      logger.debug('webhook.attempt', {
        delivery_id: deliveryId,
        endpoint_id: endpointId,
        attempt,
        trigger,
        status_code: outcome.statusCode,
        error_class: outcome.errorClass,
        duration_ms: outcome.durationMs,
        next_attempt_at: nextAttemptAt,
      })

    if (succeeded) {
      // A burst of successes to one endpoint within the same millisecond needs one write, not one each.
      if (state.failing_since !== null || state.last_success_at !== now) stmt.markSuccess.run({ id: endpointId, now })
      return logAttempt
    }
    const failingSince = state.failing_since ?? startedAt
    let disabledReason: string | null = null
    if (gone) disabledReason = 'The receiver answered 410 Gone.'
    else if (status === 'failed' && now - failingSince >= AUTO_DISABLE_AFTER_MS) disabledReason = 'No successful delivery for 5 days.'
    if (disabledReason && state.enabled) {
      db.update(webhookEndpoints).set({ enabled: false, disabledReason, failingSince, updatedAt: now }).where(eq(webhookEndpoints.id, endpointId)).run()
      return () => {
        logAttempt()
        logger.warn('webhook.disabled', { endpoint_id: endpointId, workspace_id: state.workspace_id, reason: disabledReason })
      }
    }
    if (state.failing_since === null) db.update(webhookEndpoints).set({ failingSince }).where(eq(webhookEndpoints.id, endpointId)).run()
    return logAttempt
  }

  /** Claims what fits in the free slots and starts sending; each finished attempt pumps again. */
  function pump(): void {
    if (stopping) return
    try {
      const free = maxInFlight - inFlight.size
      if (free > 0) {
        for (const job of claim(free)) {
          const run: Promise<void> = deliver(job)
            .catch((error: unknown) => logger.error('webhook.dispatch_failed', { delivery_id: job.id, error: String(error) }))
            .finally(() => {
              inFlight.delete(run)
              shares.remove(job.workspace_id, job.endpoint_id)
              wake()
            })
          inFlight.add(run)
        }
      }
      scheduleTimer()
      lastError = null
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      // Retried every second: a database locked for minutes is logged once, not once per retry.
      if (message !== lastError) logger.error('webhook.dispatcher_error', { error: message })
      lastError = message
      armTimer(ERROR_RETRY_MS)
    }
  }

  /**
   * While attempts are in flight each one pumps when it ends, so a short fallback timer is enough.
   * Idle, sleep until the earliest retry or lease expiry (at most MAX_IDLE_MS). Deliveries that are
   * due but could not be claimed (their endpoint is at its cap through another process's leases)
   * are looked at again every BUSY_POLL_MS rather than in a tight loop.
   */
  function scheduleTimer(): void {
    if (inFlight.size > 0) return armTimer(BUSY_POLL_MS)
    const now = clock.now()
    const { next, blocked } = stmt.nextWake.get({ now }) ?? { next: null, blocked: null }
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

  /** Frees the claims of processes on this host that no longer run (kill -9, crash), so their work resumes at once. */
  function releaseDeadLeases(): void {
    const [host] = owner.split(':')
    const holders = db.selectDistinct({ owner: webhookDeliveries.leaseOwner }).from(webhookDeliveries).where(sql`${webhookDeliveries.leaseOwner} is not null`).all()
    const dead = holders.map((h) => h.owner!).filter((other) => other !== owner && isDeadLocalOwner(other, host!))
    if (dead.length === 0) return
    db.update(webhookDeliveries).set({ leaseUntil: null, leaseOwner: null }).where(inArray(webhookDeliveries.leaseOwner, dead)).run()
    logger.info('webhook.leases_released', { owners: dead })
  }

  function releaseLease(deliveryId: string): void {
    stmt.release.run({ id: deliveryId, owner })
    logger.warn('webhook.attempt_interrupted', { delivery_id: deliveryId, reason: 'shutdown' })
  }

  releaseDeadLeases()
  wake()

  return {
    wake,
    state: () => ({ running: !stopping, in_flight: inFlight.size, last_error: lastError }),
    async stop(graceMs = SHUTDOWN_GRACE_MS) {
      stopping = true
      clearTimeout(timer)
      let graceTimer: ReturnType<typeof setTimeout> | undefined
      const graceOver = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, graceMs)))
      await Promise.race([Promise.allSettled([...inFlight]), graceOver])
      clearTimeout(graceTimer)
      if (inFlight.size > 0) cutOff.abort()
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
