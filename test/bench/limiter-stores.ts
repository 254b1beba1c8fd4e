/**
 * Throughput of the rate-limit stores: takes per second for memory, PostgreSQL and Redis, each shared
 * store raw and as askad uses it (through the fail-open wrapper with its timeout), on one node with
 * CONCURRENCY takes in flight over IDS bucket ids. Real servers on 127.0.0.1 (test/pg.ts, test/redis.ts).
 * Prints a table; bounded by TAKES per store. Run: `bun test/bench/limiter-stores.ts`.
 */
import { systemClock } from '../../src/lib/clock'
import { createLogger } from '../../src/lib/logger'
import { failingOpen } from '../../src/lib/rate-limit-store'
import { createPostgresStore } from '../../src/lib/rate-limit-postgres'
import { createRedisStore } from '../../src/lib/rate-limit-redis'
import { createTokenBuckets, type RateLimitStore } from '../../src/lib/token-bucket'
import { pgAvailable, testDatabase } from '../pg'
import { redisAvailable, startRedis } from '../redis'
import { percentile, printTable } from './lib'

/** Takes per shared-store run; memory gets 50× as many (it is that much faster). */
const TAKES = 30_000
const MEMORY_TAKES = TAKES * 50
/** Takes run and discarded first (connections, JIT, the server's caches), so the order of the runs does not matter. */
const WARM_UP_TAKES = 5_000
const CONCURRENCY = 64
const IDS = 1_000
const CAPACITY = 100
const WINDOW_MS = 60_000

/** Runs TAKES takes, CONCURRENCY at a time; returns takes/s and the latency percentiles in µs. */
async function measure(store: RateLimitStore, takes: number): Promise<Record<string, string | number>> {
  const latencies: number[] = []
  let next = 0
  let allowed = 0
  const started = performance.now()
  const worker = async () => {
    while (next < takes) {
      const i = next++
      const t0 = performance.now()
      const result = await store.take(`bench:${i % IDS}`, CAPACITY, WINDOW_MS)
      latencies.push((performance.now() - t0) * 1000)
      if (result.allowed) allowed++
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return {
    takes,
    allowed,
    'takes/s': Math.round(takes / seconds),
    'p50 µs': Math.round(percentile(latencies, 50)),
    'p99 µs': Math.round(percentile(latencies, 99)),
  }
}

const logger = createLogger('error')
const rows: Record<string, string | number>[] = []
rows.push({ store: 'memory', ...(await measure(createTokenBuckets(systemClock), MEMORY_TAKES)) })

if (pgAvailable()) {
  const database = await testDatabase()
  for (const wrapped of [false, true]) {
    const raw = createPostgresStore(database.url, systemClock)
    const store = wrapped ? failingOpen('postgres', raw, createTokenBuckets(systemClock), logger) : raw
    await measure(store, WARM_UP_TAKES)
    rows.push({ store: wrapped ? 'postgres (fail-open wrapper)' : 'postgres', ...(await measure(store, TAKES)) })
    await store.close()
  }
  await database.drop()
} else console.warn('SKIPPED postgres: no PostgreSQL (see test/pg.ts)')

if (redisAvailable()) {
  const redis = await startRedis()
  for (const wrapped of [false, true]) {
    const raw = createRedisStore(redis.url, systemClock)
    const store = wrapped ? failingOpen('redis', raw, createTokenBuckets(systemClock), logger) : raw
    await measure(store, WARM_UP_TAKES)
    rows.push({ store: wrapped ? 'redis (fail-open wrapper)' : 'redis', ...(await measure(store, TAKES)) })
    await store.close()
  }
  await redis.stop()
} else console.warn('SKIPPED redis: no /usr/bin/redis-server')

printTable(`rate-limit store takes, ${CONCURRENCY} in flight over ${IDS} ids (capacity ${CAPACITY}/${WINDOW_MS / 1000}s)`, rows)
process.exit(0)
