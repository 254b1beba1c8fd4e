/**
 * The webhook dispatcher, in stages like svix-server's worker: `claim` leases due deliveries,
 * `prepare` opens what an attempt needs (prepare.ts), `send` makes it (send-attempt.ts), `decide`
 * says what it changes (decide.ts) and `record` stores it; claim and record are the storage seam
 * (dispatch-store.ts: SQLite or PostgreSQL). The `loop` pumps claimed deliveries through them
 * (dispatch-loop.ts). This file wires the stages together.
 */
import type { AppDeps } from '../deps'
import { createSecretBox } from '../lib/secret-box'
import { systemResolver, type HostResolver } from '../lib/ssrf'
import { ENDPOINT_MAX_IN_FLIGHT } from '../modules/webhooks/rules'
import { VERSION } from '../version'
import { runDispatchLoop, type Dispatcher, type DispatchStages } from './dispatch-loop'
import { defaultOwner, dispatchStore } from './dispatch-store'
import { prepareAttempt } from './prepare'
import { ATTEMPT_TIMEOUT_MS, CONNECT_TIMEOUT_MS, sendAttempt, tcpProbe, type TcpProbe } from './send-attempt'

export type { DispatcherState } from '../deps'
export type { Dispatcher } from './dispatch-loop'

/**
 * Attempts in flight in this process. Above what endpoints at the default cap need: with 16 clients
 * pushing leads to 4 endpoints, 64 deliveries queue per ingest round trip, so endpoints whose receivers
 * can take more (`max_in_flight`) need more than 50 slots for the dispatcher to keep up (issue 15).
 */
export const MAX_IN_FLIGHT = 200
/** Attempts in flight per endpoint, across processes, unless the endpoint sets its own `max_in_flight` (SPEC §7). */
export const MAX_IN_FLIGHT_PER_ENDPOINT = ENDPOINT_MAX_IN_FLIGHT.default
/** A claim outlives the longest attempt; a crashed process's claims are free again after it. */
const LEASE_MS = 60_000

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
  /** Identifies this process in `lease_owner`; default host:pid:random. */
  owner?: string
}

/** Builds the stages of one dispatcher: a claimer, and prepare → send → record for each claimed delivery. */
export function createDispatchStages(deps: AppDeps, options: DispatcherOptions = {}): DispatchStages {
  const { clock } = deps
  const maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT
  const limits = {
    owner: options.owner ?? defaultOwner(),
    leaseMs: options.leaseMs ?? LEASE_MS,
    maxInFlight,
  }
  const store = dispatchStore(deps, limits, options.random ?? Math.random)
  const box = createSecretBox(deps.config.secretKey)
  const sendEnv = {
    fetch: options.fetch ?? fetch,
    // Read at each attempt: tests swap the harness's resolver after the dispatcher started.
    resolveHost: ((host) => (options.resolveHost ?? deps.resolveHost ?? systemResolver)(host)) satisfies HostResolver,
    allow: deps.config.webhookAllowCidrs,
    timeoutMs: options.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS,
    connectTimeoutMs: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    connect: options.connect ?? tcpProbe,
    userAgent: `askad-webhooks/${VERSION}`,
  }

  return {
    maxInFlight,
    claim: store.claim,
    finished: store.finished,
    nextWake: store.nextWake,
    async open(wake) {
      await store.releaseDeadLeases()
      await store.listen(wake)
    },
    announce: store.announce,
    close: store.close,
    async deliver(job, signal, sent) {
      const startedAt = clock.now()
      const outcome = await sendAttempt(prepareAttempt(job, box, startedAt), { ...sendEnv, now: startedAt, signal })
      // Cut off by shutdown: not the receiver's fault, so no attempt is recorded and the next process sends it again.
      if (signal.aborted) {
        await store.release(job)
        return 'released'
      }
      const written = store.record({ deliveryId: job.id, endpointId: job.endpoint_id, claimed: job, startedAt, outcome })
      sent()
      await written
      return 'recorded'
    },
  }
}

/** Starts the dispatcher (on PostgreSQL when `deps.pg` is set): frees leases of dead local processes, then sends whatever is due. */
export function startDispatcher(deps: AppDeps, options: DispatcherOptions = {}): Dispatcher {
  return runDispatchLoop(createDispatchStages(deps, options), deps)
}
