/**
 * The HTTP behaviour of rate limits is the same on a shared store as in memory: every policy (key,
 * auth failures and the check before a body is read, browser with a key in the form, preflight) gives
 * the same statuses and headers, request for request, on Redis and on PostgreSQL as on the memory store.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createTokenBuckets } from '../../src/lib/token-bucket'
import { failingOpen } from '../../src/lib/rate-limit-store'
import { createPostgresStore } from '../../src/lib/rate-limit-postgres'
import { createHarness, type Harness } from '../helpers'
import { skipUnlessPg, testDatabase, type TestDatabase } from '../pg'
import { skipUnlessRedis, startRedis, type TestRedis } from '../redis'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const SITE = 'https://shop.example'
const CONTACTS = '/api/v1/contacts'
const CAPTURE = '/api/v1/leads/capture'
const ENV = { ASKAD_RATE_LIMIT: '3/60s', ASKAD_TRUSTED_PROXIES: '127.0.0.1' }
const HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit', 'ratelimit-policy', 'retry-after']

/** What a client sees of one answer: the status and the rate-limit headers. */
async function seen(response: Promise<Response>): Promise<Record<string, string | number | null>> {
  const res = await response
  await res.arrayBuffer()
  return { status: res.status, ...Object.fromEntries(HEADERS.map((name) => [name, res.headers.get(name)])) }
}

/** The scenarios, each a sequence of requests on a fresh app; the clock moves between some of them. */
const SCENARIOS: Record<string, (h: Harness) => Promise<unknown[]>> = {
  'a secret key: 3 pass, then 429 until a token is back': async (h) => {
    const { key } = await h.workspace()
    const out = []
    for (let i = 0; i < 5; i++) out.push(await seen(h.request('GET', CONTACTS, { key, headers: { 'x-forwarded-for': '203.0.113.1' } })))
    h.clock.advance(20_000)
    out.push(await seen(h.request('GET', CONTACTS, { key })), await seen(h.request('GET', CONTACTS, { key })))
    return out
  },
  'failed authentications: 401 until the address is out of failures, then 429, also before a form body is read': async (h) => {
    const from = { 'x-forwarded-for': '198.51.100.7' }
    const out = []
    for (let i = 0; i < 5; i++) out.push(await seen(h.request('GET', CONTACTS, { key: 'ask_sk_wrong', headers: from })))
    const form = { 'content-type': 'application/x-www-form-urlencoded', ...from }
    out.push(await seen(h.request('POST', CAPTURE, { rawBody: new URLSearchParams({ email: 'a@example.com' }), headers: form })))
    return out
  },
  'a secret key in the URL or a form field: refused, and counted as a failed authentication': async (h) => {
    const { key } = await h.workspace()
    const from = { 'x-forwarded-for': '198.51.100.8' }
    const form = { 'content-type': 'application/x-www-form-urlencoded', ...from }
    const out = []
    for (let i = 0; i < 2; i++) out.push(await seen(h.request('POST', `${CAPTURE}?key=${key}`, { body: { email: 'a@example.com' }, headers: from })))
    for (let i = 0; i < 2; i++)
      out.push(await seen(h.request('POST', CAPTURE, { rawBody: new URLSearchParams({ _key: key, email: 'a@example.com' }), headers: form })))
    return out
  },
  'a publishable key in a form field: the browser bucket, then the key bucket': async (h) => {
    const ws = await h.workspace()
    const pk = (await h.key(ws.id, { kind: 'publishable', allowedOrigins: [SITE], rateLimit: 20 })).key
    const post = (ip: string) =>
      seen(
        h.request('POST', CAPTURE, {
          rawBody: new URLSearchParams({ _key: pk, email: 'form@example.com' }),
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: SITE, 'x-forwarded-for': ip },
        }),
      )
    const out = []
    for (let i = 0; i < 3; i++) out.push(await post('203.0.113.50'))
    for (let i = 0; i < 20; i++) out.push(await post(`192.0.2.${i}`))
    return out
  },
  'CORS preflights per address': async (h) => {
    const out = []
    for (let i = 0; i < 5; i++) {
      out.push(await seen(h.request('OPTIONS', CAPTURE, { headers: { origin: SITE, 'x-forwarded-for': '203.0.113.99' } })))
    }
    return out
  },
}

let redis: TestRedis | undefined
let database: TestDatabase | undefined
const skipRedis = skipUnlessRedis('rate limits over HTTP on Redis')
const skipPg = skipUnlessPg('rate limits over HTTP on PostgreSQL')
beforeAll(async () => {
  if (!skipRedis) redis = await startRedis()
  if (!skipPg) database = await testDatabase()
})
afterAll(async () => {
  await redis?.stop()
  await database?.drop()
})

const SHARED = [
  { name: 'Redis', skip: skipRedis, harness: () => createHarness({ env: { ...ENV, ASKAD_REDIS_URL: redis!.url } }) },
  {
    name: 'PostgreSQL',
    skip: skipPg,
    harness: () =>
      createHarness({
        env: ENV,
        rateLimitStore: (clock, logger) => failingOpen('postgres', createPostgresStore(database!.url, clock), createTokenBuckets(clock), logger),
      }),
  },
]

for (const shared of SHARED) {
  describe.skipIf(shared.skip)(`on ${shared.name}, answers equal the memory store's`, () => {
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      test(name, async () => {
        const memory = createHarness({ env: ENV })
        const remote = shared.harness()
        try {
          expect(remote.deps.rateLimitStore?.kind).not.toBe('memory')
          const expected = await scenario(memory)
          expect(expected.some((answer) => (answer as { status: number }).status === 429)).toBe(true)
          expect(await scenario(remote)).toEqual(expected)
          // Every check reached the shared store: none fell back to memory.
          expect(remote.deps.rateLimitStore?.fallbacks).toBe(0)
        } finally {
          memory.close()
          remote.close()
          // The next scenario reuses the addresses: start from empty buckets.
          if (shared.name === 'Redis') await flushRedis()
          else await flushPostgres()
        }
      })
    }
  })
}

async function flushRedis(): Promise<void> {
  const client = new Bun.RedisClient(redis!.url)
  await client.send('FLUSHALL', [])
  client.close()
}

async function flushPostgres(): Promise<void> {
  const sql = new Bun.SQL(database!.url, { max: 1 })
  await sql`TRUNCATE askad_rate_buckets`
  await sql.close()
}
