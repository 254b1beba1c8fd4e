/** What the app and its services are built from; tests pass their own clock, logger and fetch. */
import type { Config } from './config'
import type { Db } from './db/client'
import type { StoreAnswer } from './db/tx'
import type { Clock } from './lib/clock'
import type { Logger } from './lib/logger'
import type { HostResolver } from './lib/ssrf'
import type { DispatcherState } from './workers/dispatch-loop'

/** The part services need: storage, time, and a way to wake the webhook dispatcher after a commit. */
export interface ServiceDeps {
  db: Db
  clock: Clock
  /** Called after a transaction that queued webhook deliveries has committed. */
  wake: () => void
  /**
   * Set per request by an Idempotency-Key: the service calls it (through `answered`) inside the
   * transaction of its change, with the result it returns, so the stored answer commits with it.
   */
  storeAnswer?: StoreAnswer
}

export interface AppDeps extends ServiceDeps {
  config: Config
  logger: Logger
  /** DNS for the webhook SSRF guard; the system resolver when absent (tests inject their own). */
  resolveHost?: HostResolver
  /** The webhook dispatcher's state for /healthz, when one runs in this process. */
  dispatcherState?: () => DispatcherState
}
