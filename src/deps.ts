/** What the app and its services are built from; tests pass their own clock, logger and fetch. */
import type { Config } from './config'
import type { Db, DbOrTx } from './db/client'
import type { WriteDeps } from './db/unit-of-work'
import type { PgDb } from './db/pg/client'
import type { PgStoreAnswer } from './db/pg/unit-of-work'
import type { Clock } from './lib/clock'
import type { Logger } from './lib/logger'
import type { RateLimitStoreHandle } from './lib/rate-limit-store'
import type { HostResolver } from './lib/ssrf'
import type { SetupGate } from './modules/operators/setup'

/**
 * The part services need: storage (reads on `db`; writes only through the unit of work,
 * `write(deps, (tx, emit) => …)` / `writeBatched`, db/unit-of-work.ts), time, the dispatcher's
 * wake-up (called by the unit of work after a commit that queued deliveries, never by services) and
 * a request's pending Idempotency-Key answer (`storeAnswer`, set per request by the idempotency
 * plugin's `answerWrite`; the unit of work stores it in the transaction of the change).
 *
 * The rule: a public service function takes `(deps, …)` (`ReadDeps` when it only reads); a helper
 * that runs inside a unit of work takes the transaction explicitly (`(tx, emit, now, …)` when it
 * emits), as the unit of work owns it.
 */
export interface ServiceDeps extends WriteDeps {
  db: Db
  clock: Clock
  /**
   * The shared PostgreSQL database when askad runs on one (ASKAD_DB=postgres://…): each module's
   * store (modules/<m>/store.ts) then uses its PostgreSQL implementation, else its SQLite one on `db`.
   */
  pg?: PgDb
  /** The PostgreSQL twin of `storeAnswer`: a request's pending Idempotency-Key answer, stored in the transaction of the change. */
  storePgAnswer?: PgStoreAnswer
}

/** What a service function that only reads needs; any deps will do. */
export type ReadDeps = Pick<ServiceDeps, 'db' | 'pg'>

/** What a look-up that also runs inside a unit of work needs: the database or the running transaction. */
export interface QueryDeps {
  db: DbOrTx
}

/** What synchronous start-up and CLI services need (workspaces, bootstrap, key checks): storage and time, no dispatcher. */
export type ClockDeps = Pick<ServiceDeps, 'db' | 'clock' | 'pg'>

export interface AppDeps extends ServiceDeps {
  config: Config
  logger: Logger
  /** DNS for the webhook SSRF guard; the system resolver when absent (tests inject their own). */
  resolveHost?: HostResolver
  /** Where the rate-limit buckets live (lib/rate-limit-store.ts); the app's own memory when absent. */
  rateLimitStore?: RateLimitStoreHandle
  /** The first-run setup page's one-time token, while no operator exists (modules/operators/setup.ts). */
  setupGate?: SetupGate
  /** The webhook dispatcher's state for /healthz, when one runs in this process. */
  dispatcherState?: () => DispatcherState
}

/** The webhook dispatcher's state, as /healthz reports it. */
export interface DispatcherState {
  running: boolean
  in_flight: number
  last_error: string | null
}
