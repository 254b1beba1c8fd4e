/**
 * Picks where the rate-limit buckets live: Redis when `ASKAD_REDIS_URL` is set, else PostgreSQL when
 * the database is PostgreSQL, else this process's memory (SQLite: one node).
 *
 * A shared store that fails (down, unreachable, slow) fails OPEN: the take is answered from this
 * node's own memory buckets, so ingest keeps working and each node still enforces the limit on its
 * own (N nodes let up to N× through until the store is back). An outage of the limiter must not
 * become an outage of lead capture. After a failure the store is left alone for a few seconds, so
 * requests are not each delayed by the timeout; the failure is logged at most once per
 * `ERROR_LOG_EVERY_MS`, and the fallbacks are counted (`askad_rate_limit_store_fallbacks_total`).
 */
import type { Config } from '../config'
import type { Clock } from './clock'
import type { Logger } from './logger'
import { createPostgresStore } from './rate-limit-postgres'
import { createRedisStore } from './rate-limit-redis'
import type { MaybePromise } from './maybe-async'
import { createTokenBuckets, type RateLimitStore, type TakeResult, type TokenBuckets } from './token-bucket'

/** Shortest gap between two log lines about a failing store. */
const ERROR_LOG_EVERY_MS = 10_000
/**
 * A shared store slower than this is treated as failed for that check. Long enough to wait out a
 * busy store's queue in a burst (at 500 ms, 300 checks on one key across 3 loaded nodes spilled
 * into the fallback and let 108 through instead of 100); a down store fails at once anyway, and a
 * hung one costs one check this long per pause.
 */
const STORE_TIMEOUT_MS = 2_000
/** After a failure, checks go straight to memory for this long, so an outage does not slow every request by the timeout. */
const PAUSE_AFTER_FAILURE_MS = 5_000

/** The store in use and what it has gone through. */
export interface RateLimitStoreHandle extends RateLimitStore {
  readonly kind: 'memory' | 'postgres' | 'redis'
  /** Checks answered from this node's memory because the shared store failed or was paused after a failure. */
  readonly fallbacks: number
}

/** True for a `postgres://` or `postgresql://` database URL (an `ASKAD_DB` that is not a SQLite path). */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(db)
}

/** The store `config` selects; time from `clock`, failures of a shared store logged through `options.logger`. */
export function createRateLimitStore(config: Pick<Config, 'redisUrl' | 'dbPath'>, clock: Clock, options: { logger: Logger }): RateLimitStoreHandle {
  const memory = createTokenBuckets(clock)
  if (config.redisUrl) return failingOpen('redis', createRedisStore(config.redisUrl, clock), memory, options.logger)
  if (isPostgresUrl(config.dbPath)) return failingOpen('postgres', createPostgresStore(config.dbPath, clock), memory, options.logger)
  return { kind: 'memory', fallbacks: 0, take: memory.take, peek: memory.peek, close: memory.close }
}

/**
 * Wraps a shared store so that its failures fall back to `memory` (see the top of this file). The
 * pause and log timing use the wall clock, not the injected one: they are about the outage, not about
 * bucket arithmetic.
 */
export function failingOpen(kind: 'postgres' | 'redis', store: RateLimitStore, memory: TokenBuckets, logger: Logger): RateLimitStoreHandle {
  let fallbacks = 0
  let pausedUntil = 0
  let loggedAt = -Infinity
  let unlogged = 0

  function failed(error: unknown): void {
    const now = Date.now()
    pausedUntil = now + PAUSE_AFTER_FAILURE_MS
    unlogged++
    if (now - loggedAt < ERROR_LOG_EVERY_MS) return
    logger.error('rate-limit store failed; limiting per node from memory until it is back', {
      store: kind,
      failures: unlogged,
      retry_in_ms: PAUSE_AFTER_FAILURE_MS,
      error: error instanceof Error ? error.message : String(error),
    })
    loggedAt = now
    unlogged = 0
  }

  function guarded(shared: () => MaybePromise<TakeResult>, local: () => TakeResult): MaybePromise<TakeResult> {
    if (Date.now() < pausedUntil) {
      fallbacks++
      return local()
    }
    let timer: Timer | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${STORE_TIMEOUT_MS} ms`)), STORE_TIMEOUT_MS)
    })
    return Promise.race([shared(), timeout])
      .catch((error: unknown) => {
        failed(error)
        fallbacks++
        return local()
      })
      .finally(() => clearTimeout(timer))
  }

  return {
    kind,
    get fallbacks() {
      return fallbacks
    },
    take: (id, capacity, windowMs) =>
      guarded(
        () => store.take(id, capacity, windowMs),
        () => memory.take(id, capacity, windowMs),
      ),
    peek: (id, capacity, windowMs) =>
      guarded(
        () => store.peek(id, capacity, windowMs),
        () => memory.peek(id, capacity, windowMs),
      ),
    close: () => store.close(),
  }
}
