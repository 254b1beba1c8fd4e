/**
 * Picks where the rate-limit buckets live: Redis when `ASKAD_REDIS_URL` is set, else PostgreSQL when
 * the database is PostgreSQL, else this process's memory (SQLite: one node).
 *
 * A shared store that fails (down, unreachable, slow) fails OPEN: the take is answered from this
 * node's own memory buckets, so ingest keeps working and each node still enforces the limit on its
 * own (N nodes let up to N× through until the store is back). An outage of the limiter must not
 * become an outage of lead capture. The failure is logged at most once per `ERROR_LOG_EVERY_MS`
 * and counted (`askad_rate_limit_store_errors_total` on /metrics).
 */
import type { Config } from '../config'
import type { Clock } from './clock'
import type { Logger } from './logger'
import { createPostgresStore } from './rate-limit-postgres'
import { createRedisStore } from './rate-limit-redis'
import { createTokenBuckets, type RateLimitStore, type TakeResult } from './token-bucket'

/** Shortest gap between two log lines about a failing store. */
const ERROR_LOG_EVERY_MS = 10_000
/** A shared store slower than this is treated as failed for that take. */
const STORE_TIMEOUT_MS = 1_000

/** The store in use and what it has gone through. */
export interface RateLimitStoreHandle extends RateLimitStore {
  readonly kind: 'memory' | 'postgres' | 'redis'
  /** Takes and peeks the shared store failed, answered from memory instead. */
  readonly errors: number
}

/** True for a `postgres://` or `postgresql://` database URL (an `ASKAD_DB` that is not a SQLite path). */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(db)
}

/** The store `config` selects; time from `clock`, failures of a shared store logged through `options.logger`. */
export function createRateLimitStore(
  config: Pick<Config, 'redisUrl' | 'dbPath'>,
  clock: Clock,
  options: { logger: Logger },
): RateLimitStoreHandle {
  const memory = createTokenBuckets(clock)
  if (config.redisUrl) return failingOpen('redis', createRedisStore(config.redisUrl, clock), memory, clock, options.logger)
  if (isPostgresUrl(config.dbPath)) return failingOpen('postgres', createPostgresStore(config.dbPath, clock), memory, clock, options.logger)
  return { kind: 'memory', errors: 0, take: memory.take, peek: memory.peek, close: memory.close }
}

/** Wraps a shared store so that its failures fall back to `memory` (see the top of this file). */
export function failingOpen(
  kind: 'postgres' | 'redis',
  store: RateLimitStore,
  memory: RateLimitStore,
  clock: Clock,
  logger: Logger,
): RateLimitStoreHandle {
  let errors = 0
  let loggedAt = -Infinity
  let unlogged = 0

  async function guarded(shared: () => TakeResult | Promise<TakeResult>, local: () => TakeResult | Promise<TakeResult>): Promise<TakeResult> {
    let timer: Timer | undefined
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${STORE_TIMEOUT_MS} ms`)), STORE_TIMEOUT_MS)
      })
      return await Promise.race([shared(), timeout])
    } catch (error) {
      errors++
      unlogged++
      const now = clock.now()
      if (now - loggedAt >= ERROR_LOG_EVERY_MS) {
        logger.error('rate-limit store failed; limiting per node from memory until it is back', {
          store: kind,
          failures: unlogged,
          error: error instanceof Error ? error.message : String(error),
        })
        loggedAt = now
        unlogged = 0
      }
      return await local()
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    kind,
    get errors() {
      return errors
    },
    take: (id, capacity, windowMs) => guarded(() => store.take(id, capacity, windowMs), () => memory.take(id, capacity, windowMs)),
    peek: (id, capacity, windowMs) => guarded(() => store.peek(id, capacity, windowMs), () => memory.peek(id, capacity, windowMs)),
    close: () => store.close(),
  }
}
