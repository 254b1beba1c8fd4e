/** Idempotency-Key (SPEC §6): replay, mismatch, in-flight conflicts, expiry, and what is (not) stored. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { createApp } from '../../src/app'
import { openDb } from '../../src/db/client'
import { keyAuthenticator } from '../../src/app'
import { auth } from '../../src/plugins/auth'
import { bodyParser } from '../../src/plugins/body'
import { errors } from '../../src/plugins/errors'
import { IDEMPOTENCY_TTL_MS, idempotency } from '../../src/plugins/idempotency'
import { startRetention } from '../../src/workers/retention'
import { createHarness, type Harness, TEST_ENGINE } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const INBOUND = '/api/v1/leads/inbound'

let h: Harness
beforeAll(() => {
  h = createHarness({ env: { ASKAD_RATE_LIMIT: '10000/60s' } })
})
afterAll(() => h.close())

const leadCount = (workspaceId: string) => h.rows.count('leads', { workspaceId })

function push(key: string, idempotencyKey: string | null, body: unknown = { email: 'jane@example.com', source: 'cron' }) {
  return h.request('POST', INBOUND, { key, body, headers: idempotencyKey === null ? {} : { 'idempotency-key': idempotencyKey } })
}

describe('replay', () => {
  test('a retried POST creates one lead and gets the identical response, marked as replayed', async () => {
    const ws = await h.workspace()
    const first = await push(ws.key, 'cron-2026-11-01')
    const retry = await push(ws.key, 'cron-2026-11-01')
    expect(first.status).toBe(201)
    expect(first.headers.get('idempotent-replayed')).toBeNull()
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(retry.headers.get('location')).toBe(first.headers.get('location'))
    expect(retry.headers.get('content-type')).toBe(first.headers.get('content-type'))
    expect(await retry.text()).toBe(await first.text())
    expect(await leadCount(ws.id)).toBe(1)
  })

  test('a replay is still a request of its own: fresh request id and rate-limit headers', async () => {
    const ws = await h.workspace()
    const first = await push(ws.key, 'fresh-headers')
    const retry = await push(ws.key, 'fresh-headers')
    expect(retry.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'))
    expect(Number(retry.headers.get('x-ratelimit-remaining'))).toBe(Number(first.headers.get('x-ratelimit-remaining')) - 1)
  })

  test('the same body formatted differently is the same request', async () => {
    const ws = await h.workspace()
    const first = await h.request('POST', INBOUND, {
      key: ws.key,
      rawBody: '{"email":"a@example.com"}',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k' },
    })
    const retry = await h.request('POST', INBOUND, {
      key: ws.key,
      rawBody: '{ "email" : "a@example.com" }\n',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k' },
    })
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(await retry.json()).toEqual(await first.json())
  })

  test('browser capture with a publishable key is replayed with its CORS headers', async () => {
    const ws = await h.workspace()
    const pk = (await h.key(ws.id, { kind: 'publishable', allowedOrigins: ['https://shop.example'] })).key
    const capture = () =>
      h.request('POST', '/api/v1/leads/capture', {
        key: pk,
        body: { email: 'visitor@example.com' },
        headers: { origin: 'https://shop.example', 'idempotency-key': 'form-1' },
      })
    const first = await capture()
    const retry = await capture()
    expect(first.status).toBe(201)
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBe('true')
    expect(retry.headers.get('access-control-allow-origin')).toBe('https://shop.example')
    expect(await retry.json()).toEqual(await first.json())
    expect(await leadCount(ws.id)).toBe(1)
  })

  test('on a publishable key, keys are per browser: another visitor neither gets the answer nor can claim the key in advance', async () => {
    const ws = await h.workspace()
    const pk = (await h.key(ws.id, { kind: 'publishable', allowedOrigins: ['https://shop.example'] })).key
    const capture = (userAgent: string, email: string) =>
      h.request('POST', '/api/v1/leads/capture', {
        key: pk,
        body: { email },
        headers: { origin: 'https://shop.example', 'idempotency-key': 'form-submit-1', 'user-agent': userAgent },
      })
    // A visitor claims the predictable key first, with another body.
    const attacker = await capture('Mallory/1.0', 'mallory@example.com')
    expect(attacker.status).toBe(201)
    // Another browser with the same key and the same body as a third one: neither replays the other's answer nor gets 422.
    const alice = await capture('Alice/1.0', 'visitor@example.com')
    const bob = await capture('Bob/1.0', 'visitor@example.com')
    expect(alice.status).toBe(201)
    expect(bob.status).toBe(201)
    expect(alice.headers.get('idempotent-replayed')).toBeNull()
    expect(bob.headers.get('idempotent-replayed')).toBeNull()
    expect((await bob.json()).id).not.toBe((await alice.json()).id)
    // The same browser retrying still gets its own answer.
    const aliceAgain = await capture('Alice/1.0', 'visitor@example.com')
    expect(aliceAgain.headers.get('idempotent-replayed')).toBe('true')
    expect(await leadCount(ws.id)).toBe(3)
  })

  test('without the header every POST is new', async () => {
    const ws = await h.workspace()
    await push(ws.key, null)
    await push(ws.key, null)
    expect(await leadCount(ws.id)).toBe(2)
  })

  test('keys belong to one API key: another key may use the same string', async () => {
    const ws = await h.workspace()
    const other = (await h.key(ws.id)).key
    await push(ws.key, 'shared')
    const second = await push(other, 'shared')
    expect(second.status).toBe(201)
    expect(second.headers.get('idempotent-replayed')).toBeNull()
    expect(await leadCount(ws.id)).toBe(2)
  })
})

describe('conflicts', () => {
  test('the same key with a different body is 422', async () => {
    const ws = await h.workspace()
    await push(ws.key, 'k1')
    const changed = await push(ws.key, 'k1', { email: 'someone-else@example.com' })
    expect(changed.status).toBe(422)
    expect(await changed.json()).toMatchObject({ type: '/docs#problem-idempotency-mismatch', status: 422 })
    expect(await leadCount(ws.id)).toBe(1)
  })

  test('the same key on another path is 422', async () => {
    const ws = await h.workspace()
    await push(ws.key, 'k2')
    const elsewhere = await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'x' }, headers: { 'idempotency-key': 'k2' } })
    expect(elsewhere.status).toBe(422)
    expect((await elsewhere.json()).type).toBe('/docs#problem-idempotency-mismatch')
  })

  test('the same key while the first request is still in flight is 409', async () => {
    const ws = await h.workspace()
    const body = { email: 'jane@example.com', source: 'cron' }
    // On SQLite both arrive before the first one's group commit (the next event-loop turn) has run. On
    // PostgreSQL each waits for the database to check its key, so the first may have answered before the
    // second reaches its reservation: then the second is a replay. Either way, one lead.
    const answers = await Promise.all([push(ws.key, 'probe', body), push(ws.key, 'probe', body)])
    const duplicate = answers.find((r) => r.status === 409 || r.headers.get('idempotent-replayed') === 'true')
    expect(answers.map((r) => r.status).sort()).toEqual(TEST_ENGINE === 'sqlite' ? [201, 409] : [201, duplicate?.status ?? 0].sort())
    if (duplicate!.status === 409) expect(await duplicate!.json()).toMatchObject({ type: '/docs#problem-idempotency-in-flight', status: 409 })
    expect(await leadCount(ws.id)).toBe(1)
    // Once the first has answered, the key replays.
    expect((await push(ws.key, 'probe', body)).headers.get('idempotent-replayed')).toBe('true')
  })

  // SQLite only: the second "process" is a second connection to the same file.
  test.skipIf(TEST_ENGINE === 'postgres')('two processes on one database running the same key at once: one lead, the other answer is a replay', async () => {
    const ws = await h.workspace()
    // A second app with its own connection and its own reservations: another process as far as idempotency can tell.
    const db = openDb(h.dbPath)
    const other = createApp({ ...h.deps, db })
    const send = (app: { handle(request: Request): Promise<Response> }) =>
      app.handle(
        new Request(`http://localhost${INBOUND}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ws.key}`, 'content-type': 'application/json', 'idempotency-key': 'both-nodes' },
          body: JSON.stringify({ email: 'twice@example.com' }),
        }),
      )
    try {
      for (let round = 0; round < 5; round++) {
        const answers = await Promise.all([send(h.app), send(other)])
        expect(answers.map((r) => r.status)).toEqual([201, 201])
        const bodies = await Promise.all(answers.map((r) => r.json()))
        expect(bodies[0]).toEqual(bodies[1])
        expect(answers.filter((r) => r.headers.get('idempotent-replayed') === 'true').length).toBeGreaterThanOrEqual(1)
        expect(await leadCount(ws.id)).toBe(1)
      }
    } finally {
      db.$client.close()
    }
  })

  test('the reservation lives in the process only: a row left in flight by an older version is no answer, the retry runs', async () => {
    const ws = await h.workspace()
    await push(ws.key, 'orphan')
    await h.rows.update('idempotencyKeys', { key: 'orphan' }, { state: 'in_flight', responseStatus: null, responseBody: null })
    const retry = await push(ws.key, 'orphan')
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBeNull()
    expect(await leadCount(ws.id)).toBe(2)
    expect((await push(ws.key, 'orphan')).headers.get('idempotent-replayed')).toBe('true')
  })
})

describe('what is stored', () => {
  test('a request refused by validation does not use the key up', async () => {
    const ws = await h.workspace()
    const invalid = await push(ws.key, 'fix-and-retry', { email: 'not-an-email' })
    expect(invalid.status).toBe(422)
    const fixed = await push(ws.key, 'fix-and-retry', { email: 'fixed@example.com' })
    expect(fixed.status).toBe(201)
    expect(fixed.headers.get('idempotent-replayed')).toBeNull()
  })

  test('an error answered by the handler releases the key: nothing was done, so the retry runs again', async () => {
    const ws = await h.workspace()
    const before = await push(ws.key, 'convert-1', { email: 'first@example.com' })
    const lead = (await before.json()) as { id: string }
    const missing = '/api/v1/leads/00000000-0000-7000-8000-000000000000/convert'
    const notFound = await h.request('POST', missing, { key: ws.key, body: {}, headers: { 'idempotency-key': 'convert-2' } })
    expect(notFound.status).toBe(404)
    // The client corrects the request and retries with the same key.
    const converted = await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key, body: {}, headers: { 'idempotency-key': 'convert-2' } })
    expect(converted.status).toBeLessThan(300)
    expect(converted.headers.get('idempotent-replayed')).toBeNull()
  })

  test('Idempotency-Key longer than 255 characters is refused; 255 is fine', async () => {
    const ws = await h.workspace()
    const long = await push(ws.key, 'x'.repeat(256))
    expect(long.status).toBe(422)
    expect((await long.json()).errors).toEqual([{ path: 'headers.idempotency-key', message: expect.stringContaining('255') }])
    expect(await leadCount(ws.id)).toBe(0)
    expect((await push(ws.key, 'x'.repeat(255))).status).toBe(201)
  })

  test('responses are kept for 24 h; expired ones are deleted and the key starts afresh', async () => {
    const ws = await h.workspace()
    await push(ws.key, 'daily')
    h.clock.advance(IDEMPOTENCY_TTL_MS - 1)
    expect((await push(ws.key, 'daily')).headers.get('idempotent-replayed')).toBe('true')
    h.clock.advance(1)
    const nextDay = await push(ws.key, 'daily', { email: 'another-body-is-fine-now@example.com' })
    expect(nextDay.status).toBe(201)
    expect(nextDay.headers.get('idempotent-replayed')).toBeNull()
    expect(await leadCount(ws.id)).toBe(2)
    // Expired rows are deleted by the retention worker (workers/retention.ts), off the request path.
    const expired = async () => (await h.rows.all('idempotencyKeys')).filter((r) => r.expiresAt <= h.clock.now())
    h.clock.advance(IDEMPOTENCY_TTL_MS + 60_000)
    expect((await expired()).length).toBeGreaterThan(0)
    const retention = startRetention(h.deps)
    try {
      await retention.runOnce()
    } finally {
      await retention.stop()
    }
    expect(await expired()).toEqual([])
  })

  test('GET ignores the header', async () => {
    const ws = await h.workspace()
    const list = await h.request('GET', '/api/v1/leads', { key: ws.key, headers: { 'idempotency-key': 'x'.repeat(300) } })
    expect(list.status).toBe(200)
  })
})

describe('at the listening server', () => {
  test('concurrent duplicates create exactly one lead; the rest are replays or 409', async () => {
    const server = createApp(h.deps).listen({ port: 0, hostname: '127.0.0.1' })
    try {
      const ws = await h.workspace()
      const send = () =>
        fetch(`http://127.0.0.1:${server.server!.port}${INBOUND}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ws.key}`, 'content-type': 'application/json', 'idempotency-key': 'burst' },
          body: JSON.stringify({ email: 'burst@example.com' }),
        })
      const responses = await Promise.all(Array.from({ length: 50 }, send))
      const created = responses.filter((r) => r.status === 201)
      expect(created.length + responses.filter((r) => r.status === 409).length).toBe(50)
      expect(created.filter((r) => r.headers.get('idempotent-replayed') === null)).toHaveLength(1)
      expect(new Set(await Promise.all(created.map((r) => r.text()))).size).toBe(1)
      expect(await leadCount(ws.id)).toBe(1)
    } finally {
      await server.stop(true)
    }
  })

  describe('with a handler that waits', () => {
    // The real routes finish in one synchronous step, so a route that waits for the test is
    // mounted behind the same plugin chain to hold a request in flight deterministically.
    function gate() {
      let open = () => {}
      let arrive = () => {}
      const opened = new Promise<void>((resolve) => (open = resolve))
      const arrived = new Promise<void>((resolve) => (arrive = resolve))
      return { open, opened, arrive, arrived }
    }
    let current = gate()
    let runs = 0
    let failNext = false
    let stop: () => Promise<unknown>
    let base: string
    let key: string

    beforeAll(async () => {
      const authPlugin = auth({ ...h.deps, authenticate: keyAuthenticator(h.deps) })
      const slow = new Elysia().use(authPlugin).post(
        '/slow',
        async () => {
          runs++
          const held = current
          held.arrive()
          await held.opened
          if (failNext) {
            failNext = false
            throw new Error('database went away')
          }
          return { run: runs }
        },
        { scope: 'leads:write' },
      )
      const server = new Elysia()
        .use(errors(h.deps))
        .use(bodyParser())
        .use(authPlugin)
        .use(idempotency(h.deps))
        .group('/api/v1', (api) => api.use(slow))
        .listen({ port: 0, hostname: '127.0.0.1' })
      base = `http://127.0.0.1:${server.server!.port}/api/v1/slow`
      key = (await h.workspace()).key
      stop = () => server.stop(true)
    })
    afterAll(() => stop())

    const post = (idempotencyKey: string) =>
      fetch(base, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify({ n: 1 }),
      })

    test('a duplicate arriving while the first runs is 409; afterwards it is replayed', async () => {
      current = gate()
      const first = post('slow-1')
      await current.arrived
      const duplicate = await post('slow-1')
      expect(duplicate.status).toBe(409)
      expect(duplicate.headers.get('x-ratelimit-limit')).toBe('10000')
      current.open()
      expect((await first).status).toBe(200)
      const replay = await post('slow-1')
      expect(replay.headers.get('idempotent-replayed')).toBe('true')
      expect(await replay.json()).toEqual({ run: runs })
    })

    test('a 5xx releases the key so the retry runs the handler again', async () => {
      current = gate()
      failNext = true
      const before = runs
      const first = post('slow-2')
      await current.arrived
      current.open()
      expect((await first).status).toBe(500)
      current = gate()
      const retry = post('slow-2')
      await current.arrived
      current.open()
      const answer = await retry
      expect(answer.status).toBe(200)
      expect(answer.headers.get('idempotent-replayed')).toBeNull()
      expect(runs).toBe(before + 2)
    })
  })
})
