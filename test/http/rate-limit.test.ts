/** Rate limits (SPEC §5): the token buckets themselves, then the limits as HTTP clients see them. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createApp } from '../../src/app'
import { createTokenBuckets } from '../../src/lib/token-bucket'
import { createHarness, testClock, type Harness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const CONTACTS = '/api/v1/contacts'
const CAPTURE = '/api/v1/leads/capture'
const RATE_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit-policy', 'ratelimit']

function expectRateHeaders(response: Response): void {
  for (const name of RATE_HEADERS) expect(response.headers.get(name), name).not.toBeNull()
}

describe('token buckets', () => {
  test('a fresh bucket allows exactly its capacity, then refuses without consuming', () => {
    const clock = testClock()
    const buckets = createTokenBuckets(clock)
    const results = Array.from({ length: 105 }, () => buckets.take('k', 100, 60_000))
    expect(results.filter((r) => r.allowed)).toHaveLength(100)
    expect(results.slice(0, 100).map((r) => r.remaining)).toEqual(Array.from({ length: 100 }, (_, i) => 99 - i))
    const refused = results[104]!
    expect(refused).toEqual({ allowed: false, remaining: 0, resetAt: clock.now() + 60_000, nextTokenAt: clock.now() + 600 })
  })

  test('refills one token per window/capacity and is full again after one window', () => {
    const clock = testClock()
    const buckets = createTokenBuckets(clock)
    for (let i = 0; i < 100; i++) buckets.take('k', 100, 60_000)
    clock.advance(599)
    expect(buckets.take('k', 100, 60_000).allowed).toBe(false)
    clock.advance(1)
    expect(buckets.take('k', 100, 60_000)).toMatchObject({ allowed: true, remaining: 0 })
    clock.advance(60_000)
    expect(buckets.peek('k', 100, 60_000)).toMatchObject({ allowed: true, remaining: 100, resetAt: clock.now() })
  })

  test('capacities that do not divide the window lose no token to rounding', () => {
    const clock = testClock()
    const buckets = createTokenBuckets(clock)
    const allowed = Array.from({ length: 10 }, () => buckets.take('k', 7, 60_000)).filter((r) => r.allowed)
    expect(allowed).toHaveLength(7)
    clock.advance(60_000)
    expect(Array.from({ length: 10 }, () => buckets.take('k', 7, 60_000)).filter((r) => r.allowed)).toHaveLength(7)
  })

  test('peek never consumes', () => {
    const buckets = createTokenBuckets(testClock())
    for (let i = 0; i < 10; i++) expect(buckets.peek('k', 1, 1_000).allowed).toBe(true)
    expect(buckets.take('k', 1, 1_000).allowed).toBe(true)
    expect(buckets.peek('k', 1, 1_000).allowed).toBe(false)
  })

  test('buckets are independent per id', () => {
    const buckets = createTokenBuckets(testClock())
    expect(buckets.take('a', 1, 1_000).allowed).toBe(true)
    expect(buckets.take('a', 1, 1_000).allowed).toBe(false)
    expect(buckets.take('b', 1, 1_000).allowed).toBe(true)
  })

  test('idle buckets are dropped after two windows, so they cost no memory', () => {
    const clock = testClock()
    const buckets = createTokenBuckets(clock)
    for (let i = 0; i < 1_000; i++) buckets.take(`old-${i}`, 10, 1_000)
    expect(buckets.size).toBe(1_000)
    clock.advance(1_000)
    for (let i = 0; i < 1_000; i++) buckets.take(`new-${i}`, 10, 1_000)
    expect(buckets.size).toBe(2_000)
    clock.advance(1_000)
    buckets.take('later', 10, 1_000)
    expect(buckets.size).toBe(1_001)
    expect(buckets.peek('old-1', 10, 1_000).remaining).toBe(10)
  })

  test('a bucket in use keeps its state across generations', () => {
    const clock = testClock()
    const buckets = createTokenBuckets(clock)
    buckets.take('busy', 2, 1_000)
    buckets.take('busy', 2, 1_000)
    clock.advance(600)
    expect(buckets.take('busy', 2, 1_000).allowed).toBe(true)
    clock.advance(400)
    buckets.take('someone-else', 2, 1_000) // a new generation starts here
    clock.advance(100)
    expect(buckets.take('busy', 2, 1_000)).toMatchObject({ allowed: true, remaining: 0 })
    clock.advance(100)
    expect(buckets.take('busy', 2, 1_000).allowed).toBe(false)
    clock.advance(2_000)
    buckets.take('someone-else', 2, 1_000)
    clock.advance(100)
    expect(buckets.take('busy', 2, 1_000)).toMatchObject({ allowed: true, remaining: 1 })
  })

  test('a generation that reaches the cap is retired early, so memory stays bounded under a flood', () => {
    const buckets = createTokenBuckets(testClock(), { maxBuckets: 3 })
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) buckets.take(id, 2, 60_000)
    expect(buckets.size).toBeLessThanOrEqual(6)
    // 'a' to 'c' were dropped (fresh buckets again); 'e', still held, is not.
    expect(buckets.take('a', 2, 60_000).remaining).toBe(1)
    expect(buckets.take('e', 2, 60_000).remaining).toBe(0)
  })
})

describe('per API key, at the listening server', () => {
  let h: Harness
  let server: ReturnType<ReturnType<typeof createApp>['listen']>
  let base: string

  beforeAll(() => {
    h = createHarness({ env: { ASKAD_RATE_LIMIT: '100/2s' } })
    server = createApp(h.deps).listen({ port: 0, hostname: '127.0.0.1' })
    base = `http://127.0.0.1:${server.server!.port}`
  })
  afterAll(async () => {
    await server.stop(true)
    h.close()
  })

  const get = (key: string) => fetch(base + CONTACTS, { headers: { authorization: `Bearer ${key}` } })

  test('1,000 concurrent requests on a fresh key: exactly 100 succeed, 900 get 429, all with the headers', async () => {
    const { key } = await h.workspace()
    const responses = await Promise.all(Array.from({ length: 1_000 }, () => get(key)))
    const statuses = responses.map((r) => r.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(100)
    expect(statuses.filter((s) => s === 429)).toHaveLength(900)
    for (const response of responses) {
      expectRateHeaders(response)
      expect(response.headers.get('x-ratelimit-limit')).toBe('100')
      expect(response.headers.get('ratelimit-policy')).toBe('"default";q=100;w=2')
    }
    const remaining = responses.filter((r) => r.status === 200).map((r) => Number(r.headers.get('x-ratelimit-remaining')))
    expect(remaining.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    const refused = responses.find((r) => r.status === 429)!
    expect(refused.headers.get('content-type')).toBe('application/problem+json')
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(await refused.json()).toMatchObject({ status: 429, title: 'Too many requests', type: '/docs#problem-rate-limited' })
    await Promise.all(responses.filter((r) => r !== refused).map((r) => r.arrayBuffer()))

    // After the (shortened) refill time the key has its full bucket again, and no more.
    h.clock.advance(2_000)
    const again = await Promise.all(Array.from({ length: 101 }, () => get(key)))
    expect(again.filter((r) => r.status === 200)).toHaveLength(100)
    expect(again.filter((r) => r.status === 429)).toHaveLength(1)
  })

  test('X-RateLimit-Reset is epoch seconds when the bucket is full; Retry-After says when the next request passes', async () => {
    const { key } = await h.workspace()
    const start = h.clock.now()
    const first = await get(key)
    // One token used; it takes 2 s / 100 = 20 ms to come back.
    expect(first.headers.get('x-ratelimit-reset')).toBe(String(Math.ceil((start + 20) / 1000)))
    expect(first.headers.get('ratelimit')).toBe('"default";r=99;t=1')
    await Promise.all(Array.from({ length: 99 }, () => get(key)))
    const refused = await get(key)
    expect(refused.status).toBe(429)
    const reset = Number(refused.headers.get('x-ratelimit-reset'))
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(reset).toBe(Math.ceil((start + 2_000) / 1000))
    expect(reset).toBeLessThan(1e10) // seconds, not milliseconds
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(start / 1000 + retryAfter).toBeLessThanOrEqual(reset)
    expect(refused.headers.get('ratelimit')).toBe(`"default";r=0;t=${reset - start / 1000}`)
    h.clock.advance(retryAfter * 1000)
    expect((await get(key)).status).toBe(200)
  })
})

describe('per API key, in process', () => {
  let h: Harness
  beforeAll(() => {
    h = createHarness()
  })
  afterAll(() => h.close())

  test("a key's own rate_limit overrides the instance default", async () => {
    const ws = await h.workspace('override', { rateLimit: 3 })
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const response = await h.request('GET', CONTACTS, { key: ws.key })
      statuses.push(response.status)
      expect(response.headers.get('x-ratelimit-limit')).toBe('3')
      expect(response.headers.get('ratelimit-policy')).toBe('"default";q=3;w=60')
    }
    expect(statuses).toEqual([200, 200, 200, 429])
  })

  test('error responses to authenticated requests carry the headers too', async () => {
    const ws = await h.workspace()
    const readOnly = (await h.key(ws.id, { scopes: ['contacts:read'] })).key
    const answers = [
      await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'not-an-email' } }),
      await h.request('GET', '/api/v1/no-such-route', { key: ws.key }),
      await h.request('POST', '/api/v1/leads/inbound', { key: readOnly, body: { email: 'a@example.com' } }),
      await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, rawBody: '{oops', headers: { 'content-type': 'application/json' } }),
    ]
    expect(answers.map((r) => r.status)).toEqual([422, 404, 403, 400])
    for (const response of answers) expectRateHeaders(response)
    expect(answers.map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual(['99', '98', '99', '97'])
  })

  test('routes outside /api/v1 are not limited', async () => {
    const health = await h.request('GET', '/healthz')
    expect(health.status).toBe(200)
    expect(health.headers.get('x-ratelimit-limit')).toBeNull()
  })
})

describe('per client IP', () => {
  let h: Harness
  beforeAll(() => {
    // The harness talks to the app without a socket, as 127.0.0.1; trusting it lets tests pick client IPs.
    h = createHarness({ env: { ASKAD_RATE_LIMIT: '5/60s', ASKAD_TRUSTED_PROXIES: '127.0.0.1' } })
  })
  afterAll(() => h.close())

  const from = (ip: string, key?: string) => h.request('GET', CONTACTS, { key, headers: { 'x-forwarded-for': ip } })

  test('failed authentications use up the IP, whose further failures then get 429 while valid keys still pass', async () => {
    const ws = await h.workspace()
    const statuses: number[] = []
    for (const bad of ['ask_sk_nope', undefined, 'ask_sk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Bearer', 'x']) {
      const response = await from('203.0.113.7', bad)
      statuses.push(response.status)
      expectRateHeaders(response)
      expect(response.headers.get('ratelimit-policy')).toBe('"auth-failures";q=5;w=60')
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401])

    const blocked = await from('203.0.113.7', 'ask_sk_guess')
    expect(blocked.status).toBe(429)
    expect(blocked.headers.get('retry-after')).toBe('12')
    expect(blocked.headers.get('x-ratelimit-remaining')).toBe('0')
    expect((await blocked.json()).detail).toContain('without a valid API key')

    // A valid key from the same address (an office behind one NAT) is not locked out.
    expect((await from('203.0.113.7', ws.key)).status).toBe(200)
    // Other addresses are unaffected.
    expect((await from('198.51.100.2', 'ask_sk_nope')).status).toBe(401)

    h.clock.advance(12_000)
    expect((await from('203.0.113.7', 'ask_sk_nope')).status).toBe(401)
  })

  test('successful requests do not use up the IP allowance', async () => {
    const ws = await h.workspace('many-keys')
    for (let i = 0; i < 4; i++) {
      const key = (await h.key(ws.id)).key
      expect((await from('192.0.2.44', key)).status).toBe(200)
    }
    for (let i = 0; i < 5; i++) expect((await from('192.0.2.44')).status).toBe(401)
    expect((await from('192.0.2.44')).status).toBe(429)
    expect((await from('192.0.2.44', ws.key)).status).toBe(200)
  })

  test('110 garbage keys from one address do not lock out a valid key there', async () => {
    const ws = await h.workspace()
    const statuses = new Set<number>()
    for (let i = 0; i < 110; i++) statuses.add((await from('192.0.2.80', `ask_sk_garbage${i}`)).status)
    expect([...statuses].sort()).toEqual([401, 429])
    expect((await from('192.0.2.80', ws.key)).status).toBe(200)
  })

  test('IPv6 clients are counted per /64, so rotating addresses does not help', async () => {
    for (let i = 1; i <= 5; i++) expect((await from(`2001:db8:1:2::${i}`)).status).toBe(401)
    expect((await from('2001:db8:1:2:ffff::1')).status).toBe(429)
    expect((await from('2001:db8:1:3::1')).status).toBe(401)
  })

  test('a spoofed X-Forwarded-For from an untrusted peer is ignored', async () => {
    const strict = createHarness({ env: { ASKAD_RATE_LIMIT: '2/60s' } })
    try {
      for (let i = 0; i < 2; i++) expect((await strict.request('GET', CONTACTS, { headers: { 'x-forwarded-for': `10.0.0.${i}` } })).status).toBe(401)
      expect((await strict.request('GET', CONTACTS, { headers: { 'x-forwarded-for': '10.0.0.99' } })).status).toBe(429)
    } finally {
      strict.close()
    }
  })
})

describe('publishable keys: per key and per browser', () => {
  const SITE = 'https://shop.example'
  let h: Harness
  beforeAll(() => {
    h = createHarness({ env: { ASKAD_TRUSTED_PROXIES: '127.0.0.1' } })
  })
  afterAll(() => h.close())

  const capture = (key: string, ip: string, email: string) =>
    h.request('POST', CAPTURE, { key, body: { email }, headers: { origin: SITE, 'x-forwarded-for': ip } })

  test('one browser gets a tenth of the form key; others still get through', async () => {
    const ws = await h.workspace()
    const pk = (await h.key(ws.id, { kind: 'publishable', allowedOrigins: [SITE], rateLimit: 30 })).key
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const response = await capture(pk, '203.0.113.9', `a${i}@example.com`)
      statuses.push(response.status)
      expectRateHeaders(response)
      expect(response.headers.get('ratelimit-policy')).toBe('"browser";q=3;w=60')
    }
    expect(statuses).toEqual([201, 201, 201, 429])

    // The refused browser request cost the form nothing: 30 - 3 = 27 left for everyone else.
    const other = await capture(pk, '198.51.100.20', 'b@example.com')
    expect(other.status).toBe(201)
    expect(other.headers.get('ratelimit-policy')).toBe('"browser";q=3;w=60')
    expect(other.headers.get('x-ratelimit-remaining')).toBe('2')
  })

  test('many browsers together are still held to the key capacity', async () => {
    const ws = await h.workspace()
    const pk = (await h.key(ws.id, { kind: 'publishable', allowedOrigins: [SITE], rateLimit: 10 })).key
    const statuses: number[] = []
    for (let i = 0; i < 12; i++) {
      const response = await capture(pk, `192.0.2.${i + 1}`, `c${i}@example.com`)
      statuses.push(response.status)
      if (response.status === 429) expect(response.headers.get('ratelimit-policy')).toBe('"default";q=10;w=60')
    }
    expect(statuses).toEqual([...Array(10).fill(201), 429, 429])
  })

  test('a key sent as a form field is limited the same way', async () => {
    const ws = await h.workspace()
    const pk = (await h.key(ws.id, { kind: 'publishable', allowedOrigins: [SITE], rateLimit: 10 })).key
    const post = () =>
      h.request('POST', CAPTURE, {
        rawBody: new URLSearchParams({ _key: pk, email: 'form@example.com' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: SITE, 'x-forwarded-for': '203.0.113.50' },
      })
    expect((await post()).status).toBe(201)
    const refused = await post()
    expect(refused.status).toBe(429)
    expect(refused.headers.get('ratelimit-policy')).toBe('"browser";q=1;w=60')
    expect(refused.headers.get('retry-after')).toBe('60')
  })
})
