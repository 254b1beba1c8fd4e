/**
 * One contract for every rate-limit store (memory, PostgreSQL, Redis), run against real servers:
 * the memory store is the reference, and the shared stores must give exactly its answers.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { loadConfig } from '../../src/config'
import type { Clock } from '../../src/lib/clock'
import { createLogger } from '../../src/lib/logger'
import { createRateLimitStore, failingOpen, type RateLimitStoreHandle } from '../../src/lib/rate-limit-store'
import { createPostgresStore } from '../../src/lib/rate-limit-postgres'
import { createRedisStore } from '../../src/lib/rate-limit-redis'
import { createTokenBuckets, type RateLimitStore, type TakeResult } from '../../src/lib/token-bucket'
import { testClock } from '../helpers'
import { skipUnlessPg, testDatabase, type TestDatabase } from '../pg'
import { skipUnlessRedis, startRedis, type TestRedis } from '../redis'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const MINUTE = 60_000

let database: TestDatabase | undefined
let redis: TestRedis | undefined
const skipPg = skipUnlessPg('PostgreSQL rate-limit store contract')
const skipRedis = skipUnlessRedis('Redis rate-limit store contract')

beforeAll(async () => {
  if (!skipPg) database = await testDatabase()
  if (!skipRedis) redis = await startRedis()
})
afterAll(async () => {
  await database?.drop()
  await redis?.stop()
})

const STORES: { name: string; skip: boolean; open(clock: Clock): RateLimitStore }[] = [
  { name: 'memory', skip: false, open: (clock) => createTokenBuckets(clock) },
  { name: 'postgres', skip: skipPg, open: (clock) => createPostgresStore(database!.url, clock) },
  { name: 'redis', skip: skipRedis, open: (clock) => createRedisStore(redis!.url, clock) },
]

let run = 0

for (const kind of STORES) {
  describe.skipIf(kind.skip)(`${kind.name} store`, () => {
    /** A store on a fresh test clock, with ids no other test uses (the shared stores outlive a test). */
    async function withStore(body: (store: RateLimitStore, clock: ReturnType<typeof testClock>, id: (name: string) => string) => Promise<void>) {
      const clock = testClock()
      const store = kind.open(clock)
      const prefix = `t${process.pid}-${++run}-`
      try {
        await body(store, clock, (name) => prefix + name)
      } finally {
        await store.close()
      }
    }

    test('a bucket of 5 lets exactly 5 through, then refuses', () =>
      withStore(async (store, _clock, id) => {
        const results: TakeResult[] = []
        for (let i = 0; i < 7; i++) results.push(await store.take(id('a'), 5, MINUTE))
        expect(results.map((r) => r.allowed)).toEqual([true, true, true, true, true, false, false])
        expect(results.map((r) => r.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0])
      }))

    test('a token comes back after exactly window/capacity', () =>
      withStore(async (store, clock, id) => {
        for (let i = 0; i < 4; i++) expect((await store.take(id('a'), 4, MINUTE)).allowed).toBe(true)
        const refused = await store.take(id('a'), 4, MINUTE)
        expect(refused.allowed).toBe(false)
        expect(refused.nextTokenAt).toBe(clock.now() + MINUTE / 4)
        clock.advance(MINUTE / 4 - 1)
        expect((await store.take(id('a'), 4, MINUTE)).allowed).toBe(false)
        clock.advance(1)
        expect((await store.take(id('a'), 4, MINUTE)).allowed).toBe(true)
        expect((await store.take(id('a'), 4, MINUTE)).allowed).toBe(false)
        clock.advance(MINUTE)
        expect(await store.peek(id('a'), 4, MINUTE)).toEqual({ allowed: true, remaining: 4, resetAt: clock.now(), nextTokenAt: clock.now() })
      }))

    test('peek never consumes', () =>
      withStore(async (store, _clock, id) => {
        for (let i = 0; i < 10; i++) expect((await store.peek(id('a'), 3, MINUTE)).remaining).toBe(3)
        for (let i = 0; i < 3; i++) expect((await store.take(id('a'), 3, MINUTE)).allowed).toBe(true)
        expect((await store.peek(id('a'), 3, MINUTE)).allowed).toBe(false)
        expect((await store.take(id('a'), 3, MINUTE)).allowed).toBe(false)
      }))

    test('distinct ids are independent', () =>
      withStore(async (store, _clock, id) => {
        expect((await store.take(id('a'), 1, MINUTE)).allowed).toBe(true)
        expect((await store.take(id('a'), 1, MINUTE)).allowed).toBe(false)
        expect((await store.take(id('b'), 1, MINUTE)).allowed).toBe(true)
        expect((await store.peek(id('c'), 1, MINUTE)).allowed).toBe(true)
      }))

    test('every answer equals the memory store’s for the same sequence (odd intervals, time moving)', () =>
      withStore(async (store, clock, id) => {
        const reference = createTokenBuckets(clock)
        // A fixed pseudo-random walk: takes and peeks on 3 ids, capacities giving non-integer intervals (60000/7 ms).
        let seed = 7
        const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31)
        for (let step = 0; step < 300; step++) {
          const name = `id${next() % 3}`
          const capacity = [7, 3, 100][next() % 3]!
          const op = next() % 4 === 0 ? 'peek' : 'take'
          const expected = reference[op](name, capacity, MINUTE)
          expect({ step, ...(await store[op](id(name), capacity, MINUTE)) }).toEqual({ step, ...expected })
          clock.advance([0, 1, 999, MINUTE / 7, 4_321.5][next() % 5]!)
        }
      }))
  })
}

describe('choosing the store', () => {
  const logger = createLogger('silent')

  test('ASKAD_REDIS_URL takes redis:// or rediss:// only, with a clear error otherwise', () => {
    expect(loadConfig({}, { ASKAD_REDIS_URL: 'redis://127.0.0.1:6379' }).redisUrl).toBe('redis://127.0.0.1:6379')
    expect(loadConfig({}, { ASKAD_REDIS_URL: 'rediss://cache.example:6380' }).redisUrl).toBe('rediss://cache.example:6380')
    expect(loadConfig({}, {}).redisUrl).toBeUndefined()
    for (const bad of ['http://127.0.0.1:6379', '127.0.0.1:6379', 'redis://', 'redis:6379']) {
      expect(() => loadConfig({}, { ASKAD_REDIS_URL: bad })).toThrow(`Invalid ASKAD_REDIS_URL '${bad}': use redis://host:port or rediss://host:port`)
    }
  })

  test('Redis when ASKAD_REDIS_URL is set, else PostgreSQL for a postgres:// database, else memory', async () => {
    const cases: [Record<string, string>, RateLimitStoreHandle['kind']][] = [
      [{ ASKAD_DB: './data/askad.db' }, 'memory'],
      [{ ASKAD_DB: 'postgres://askad@127.0.0.1:1/askad' }, 'postgres'],
      [{ ASKAD_DB: 'postgresql://askad@127.0.0.1:1/askad' }, 'postgres'],
      [{ ASKAD_DB: 'postgres://askad@127.0.0.1:1/askad', ASKAD_REDIS_URL: 'redis://127.0.0.1:1' }, 'redis'],
      [{ ASKAD_DB: './data/askad.db', ASKAD_REDIS_URL: 'redis://127.0.0.1:1' }, 'redis'],
    ]
    for (const [env, kind] of cases) {
      const store = createRateLimitStore(loadConfig({}, env), testClock(), { logger })
      expect({ env, kind: store.kind }).toEqual({ env, kind })
      await store.close()
    }
  })
})

describe.skipIf(skipPg)('postgres store: old rows', () => {
  test('rows of buckets full again are pruned by a later take, at most once a minute', async () => {
    const clock = testClock()
    const store = createPostgresStore(database!.url, clock)
    const sql = new Bun.SQL(database!.url, { max: 1 })
    const prefix = `prune-${process.pid}-`
    const count = async () => Number((await sql`SELECT count(*) AS n FROM askad_rate_buckets WHERE id LIKE ${`${prefix}%`}`)[0].n)
    try {
      for (const id of ['a', 'b', 'c']) await store.take(prefix + id, 10, MINUTE)
      clock.advance(MINUTE / 2)
      await store.take(`${prefix}d`, 10, MINUTE)
      // Not yet a minute since the store started: nothing pruned, even though a, b and c (6 s each) are full again.
      expect(await count()).toBe(4)
      clock.advance(MINUTE / 2)
      await store.take(`${prefix}e`, 10, MINUTE)
      // The prune runs beside the take: a to d (full again at 6 s and 36 s) go, e (just taken) stays.
      for (let i = 0; i < 100 && (await count()) > 1; i++) await Bun.sleep(20)
      expect(await count()).toBe(1)
    } finally {
      await sql.close()
      await store.close()
    }
  })
})

describe.skipIf(skipRedis)('redis store: keys expire', () => {
  test('a bucket key expires exactly when the bucket is full again', async () => {
    const clock = testClock()
    const store = createRedisStore(redis!.url, clock)
    const client = new Bun.RedisClient(redis!.url)
    try {
      await store.take('ttl-a', 4, MINUTE)
      await store.take('ttl-a', 4, MINUTE)
      const ttl = Number(await client.send('PTTL', ['askad:rl:ttl-a']))
      // Two tokens of 15 s each: full again in 30 s.
      expect(ttl).toBeLessThanOrEqual(30_000)
      expect(ttl).toBeGreaterThan(29_000)
    } finally {
      client.close()
      await store.close()
    }
  })
})

describe('a shared store that cannot be reached fails open', () => {
  for (const [kind, open] of [
    ['postgres', (clock: Clock) => createPostgresStore('postgres://askad@127.0.0.1:1/askad', clock)],
    ['redis', (clock: Clock) => createRedisStore('redis://127.0.0.1:1', clock)],
  ] as const) {
    test(`${kind}: answered from memory, logged once, then memory directly for a while`, async () => {
      const clock = testClock()
      const lines: string[] = []
      const store = failingOpen(
        kind,
        open(clock),
        createTokenBuckets(clock),
        createLogger('info', (line) => lines.push(line)),
      )
      try {
        const first = await store.take('a', 2, MINUTE)
        expect(first).toEqual(createTokenBuckets(clock).take('a', 2, MINUTE))
        // Paused after the failure: synchronous answers from the same memory buckets.
        const second = store.take('a', 2, MINUTE)
        expect(second instanceof Promise).toBe(false)
        expect((second as TakeResult).allowed).toBe(true)
        expect((store.take('a', 2, MINUTE) as TakeResult).allowed).toBe(false)
        expect(store.fallbacks).toBe(3)
        expect(lines).toHaveLength(1)
        expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'error', msg: expect.stringContaining('rate-limit store failed'), store: kind })
      } finally {
        await store.close()
      }
    })
  }
})
