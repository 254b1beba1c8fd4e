/**
 * The webhooks store's contract on both engines, through the service: the same bodies on SQLite
 * and PostgreSQL; on PostgreSQL also endpoint creations racing from three nodes against the cap.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ApiError } from '../../src/errors'
import { createSecretBox, SecretKeyError } from '../../src/lib/secret-box'
import { assertSecretKeyFits, resealAll } from '../../src/modules/webhooks/at-rest'
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  recoverDeliveries,
  retryDelivery,
  rotateSecret,
  sendTestEvent,
  updateEndpoint,
} from '../../src/modules/webhooks/service'
import { ENGINES, openEngine, type EngineFixture } from '../engine-fixture'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const KEY = Buffer.alloc(32, 7).toString('base64')
const OTHER_KEY = Buffer.alloc(32, 9).toString('base64')
const URL = 'https://hooks.example.com/askad'
const FIRST_PAGE = { page: 1, limit: 50, afterSeq: null }

/** The ApiError `promise` rejects with (a storage error or anything else fails the test). */
async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`)
  return error
}

for (const engine of ENGINES) {
  const skip = engine === 'postgres' && skipUnlessPg('webhooks store contract on PostgreSQL')

  describe.skipIf(skip)(`webhooks store on ${engine}`, () => {
    let f: EngineFixture
    beforeAll(async () => {
      f = await openEngine(engine, { ASKAD_WEBHOOK_MAX_ENDPOINTS: '3', ASKAD_SECRET_KEY: KEY })
    })
    afterAll(() => f?.close())

    test('create, get and list: newest first, secrets sealed, the answer is the idempotent answer', async () => {
      const ws = await f.workspace()
      let answered: unknown
      const deps = {
        ...f.deps,
        storeAnswer: (_tx: unknown, v: unknown) => void (answered = v),
        storePgAnswer: async (_tx: unknown, v: unknown) => void (answered = v),
      }
      const first = await createEndpoint(deps, ws, { url: `${URL}/1`, events: ['lead.created'], headers: { 'X-Token': 'abc' } })
      expect(answered).toEqual(first)
      expect(first.secret).toStartWith('whsec_')
      expect(first.endpoint.secret).toStartWith('enc:v1:')
      f.clock.advance(1)
      const second = await createEndpoint(f.deps, ws, { url: `${URL}/2` })

      const got = await getEndpoint(f.deps, ws, first.endpoint.id)
      expect(got).toEqual(first.endpoint)
      expect(got.headers['x-token']).toStartWith('enc:v1:')
      const page = await listEndpoints(f.deps, ws, FIRST_PAGE)
      expect(page.data.map((e) => e.id)).toEqual([second.endpoint.id, first.endpoint.id])
      expect(page.data[1]).toMatchObject({ url: `${URL}/1`, events: ['lead.created'], headers: { 'x-token': '[redacted]' }, enabled: true })
      expect(page.pagination.total).toBe(2)
      const next = await listEndpoints(f.deps, ws, { page: 1, limit: 1, afterSeq: null })
      expect(next.data.map((e) => e.id)).toEqual([second.endpoint.id])
      expect(next.pagination.has_more).toBe(true)
    })

    test('the cap is a 422 naming the limit; other workspaces are unaffected', async () => {
      const ws = await f.workspace()
      for (let i = 0; i < 3; i++) await createEndpoint(f.deps, ws, { url: `${URL}/${i}` })
      const error = await refusal(createEndpoint(f.deps, ws, { url: `${URL}/one-more` }))
      expect(error.status).toBe(422)
      expect(error.detail).toContain('at most 3 webhook endpoints (ASKAD_WEBHOOK_MAX_ENDPOINTS)')
      await createEndpoint(f.deps, await f.workspace(), { url: URL })
    })

    test('a URL with a control character is a 422 at create and update, never stored', async () => {
      const ws = await f.workspace()
      const { endpoint } = await createEndpoint(f.deps, ws, { url: URL })
      for (const url of [`${URL}/a\0b`, `${URL}/a\nb`, `${URL}\u007f`]) {
        for (const call of [() => createEndpoint(f.deps, ws, { url }), () => updateEndpoint(f.deps, ws, endpoint.id, { url })]) {
          const error = await refusal(call())
          expect([error.status, error.detail]).toEqual([422, '/url: must not contain control characters'])
        }
      }
      expect(await getEndpoint(f.deps, ws, endpoint.id)).toEqual(endpoint)
      expect((await listEndpoints(f.deps, ws, FIRST_PAGE)).pagination.total).toBe(1)
    })

    test('another workspace, an unknown id and an id with U+0000 are 404 on every operation', async () => {
      const ws = await f.workspace()
      const { endpoint } = await createEndpoint(f.deps, ws, { url: URL })
      const other = await f.workspace()
      for (const [w, id] of [
        [other, endpoint.id],
        [ws, 'nope'],
        [ws, 'a\0b'],
      ] as const) {
        const calls = [
          () => getEndpoint(f.deps, w, id),
          () => updateEndpoint(f.deps, w, id, { description: 'x' }),
          () => rotateSecret(f.deps, w, id),
          () => sendTestEvent(f.deps, w, id),
          () => listDeliveries(f.deps, w, id, undefined, FIRST_PAGE),
          () => retryDelivery(f.deps, w, id, 'd'),
          () => recoverDeliveries(f.deps, w, id, '2026-01-01T00:00:00Z'),
          () => deleteEndpoint(f.deps, w, id),
        ]
        for (const call of calls) expect((await refusal(call())).status).toBe(404)
      }
      expect((await refusal(retryDelivery(f.deps, ws, endpoint.id, 'x\0y'))).status).toBe(404)
      expect(await getEndpoint(f.deps, ws, endpoint.id)).toEqual(endpoint)
    })

    test('disabling wakes no one; enabling clears the failure state and wakes the dispatcher', async () => {
      const ws = await f.workspace()
      const { endpoint } = await createEndpoint(f.deps, ws, { url: URL })
      const before = f.woken()
      const disabled = await updateEndpoint(f.deps, ws, endpoint.id, { enabled: false, description: 'paused' })
      expect(disabled).toMatchObject({ enabled: false, description: 'paused' })
      expect(f.woken()).toBe(before)
      await f.exec("UPDATE webhook_endpoints SET disabled_reason = 'gone', failing_since = 5 WHERE id = ?", endpoint.id)
      const again = await updateEndpoint(f.deps, ws, endpoint.id, { enabled: false })
      expect(again.disabledReason).toBe('gone')
      const enabled = await updateEndpoint(f.deps, ws, endpoint.id, { enabled: true })
      expect(enabled).toMatchObject({ enabled: true, disabledReason: null, failingSince: null })
      expect(f.woken()).toBe(before + 1)
    })

    test('rotation keeps the current secret signing for 24 h', async () => {
      const ws = await f.workspace()
      const { endpoint } = await createEndpoint(f.deps, ws, { url: URL })
      let answered: unknown
      const deps = {
        ...f.deps,
        storeAnswer: (_tx: unknown, v: unknown) => void (answered = v),
        storePgAnswer: async (_tx: unknown, v: unknown) => void (answered = v),
      }
      const rotated = await rotateSecret(deps, ws, endpoint.id)
      expect(answered).toEqual(rotated)
      expect(rotated.endpoint.previousSecret).toBe(endpoint.secret)
      expect(rotated.endpoint.previousSecretExpiresAt).toBe(f.clock.now() + 24 * 60 * 60 * 1000)
      expect(createSecretBox(createKeyBuffer(KEY)).open(rotated.endpoint.secret)).toBe(rotated.secret)
    })

    test('test events, the delivery log, retry and recover', async () => {
      const ws = await f.workspace()
      const { endpoint } = await createEndpoint(f.deps, ws, { url: URL })
      const wakes = f.woken()
      const sent = await sendTestEvent(f.deps, ws, endpoint.id)
      expect(f.woken()).toBe(wakes + 1)
      const second = await sendTestEvent(f.deps, ws, endpoint.id)
      await f.exec(
        'INSERT INTO webhook_attempts (id, delivery_id, attempt, trigger, started_at, duration_ms, status_code) VALUES (?, ?, 2, ?, 20, 5, 500), (?, ?, 1, ?, 10, 7, 503)',
        'a2',
        sent.deliveryId,
        'scheduled',
        'a1',
        sent.deliveryId,
        'scheduled',
      )
      await f.exec("UPDATE webhook_deliveries SET status = 'failed', attempt_count = 2 WHERE id = ?", sent.deliveryId)

      const log = await listDeliveries(f.deps, ws, endpoint.id, undefined, FIRST_PAGE)
      expect(log.data.map((d) => d.id)).toEqual([second.deliveryId, sent.deliveryId])
      expect(log.data[1]).toMatchObject({ event_id: sent.eventId, event_type: 'webhook.test', status: 'failed', attempt_count: 2 })
      expect(log.data[1]!.attempts.map((a) => [a.attempt, a.status_code, a.duration_ms])).toEqual([
        [1, 503, 7],
        [2, 500, 5],
      ])
      const failed = await listDeliveries(f.deps, ws, endpoint.id, 'failed', FIRST_PAGE)
      expect(failed.data.map((d) => d.id)).toEqual([sent.deliveryId])

      // An attempt in flight: 409, nothing changes.
      await f.exec('UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?', f.clock.now() + 1000, second.deliveryId)
      const inFlight = await refusal(retryDelivery(f.deps, ws, endpoint.id, second.deliveryId))
      expect([inFlight.status, inFlight.detail]).toEqual([409, `Delivery '${second.deliveryId}' has an attempt in flight; try again shortly.`])
      expect((await refusal(retryDelivery(f.deps, ws, endpoint.id, 'missing'))).status).toBe(404)

      let answered: unknown
      const deps = {
        ...f.deps,
        storeAnswer: (_tx: unknown, v: unknown) => void (answered = v),
        storePgAnswer: async (_tx: unknown, v: unknown) => void (answered = v),
      }
      f.clock.advance(60_000)
      const retried = await retryDelivery(deps, ws, endpoint.id, sent.deliveryId)
      expect(answered).toEqual(retried)
      expect(retried).toMatchObject({ id: sent.deliveryId, status: 'pending', next_attempt_at: new Date(f.clock.now()).toISOString() })
      expect(retried.attempts).toHaveLength(2)
      const [row] = await f.exec('SELECT manual FROM webhook_deliveries WHERE id = ?', sent.deliveryId)
      expect(Boolean(row!.manual)).toBe(true)

      // Recover: failed deliveries created at or after `since`.
      await f.exec("UPDATE webhook_deliveries SET status = 'failed', lease_until = NULL WHERE endpoint_id = ?", endpoint.id)
      const since = new Date(f.clock.now() - 120_000).toISOString()
      expect(await recoverDeliveries(f.deps, ws, endpoint.id, since)).toBe(2)
      expect(await recoverDeliveries(f.deps, ws, endpoint.id, since)).toBe(0)
      expect((await refusal(recoverDeliveries(f.deps, ws, endpoint.id, 'yesterday'))).status).toBe(422)

      // Disabled: test, retry and recover are 409 and change nothing.
      await updateEndpoint(f.deps, ws, endpoint.id, { enabled: false })
      await f.exec("UPDATE webhook_deliveries SET status = 'failed' WHERE endpoint_id = ?", endpoint.id)
      for (const call of [
        () => sendTestEvent(f.deps, ws, endpoint.id),
        () => retryDelivery(f.deps, ws, endpoint.id, sent.deliveryId),
        () => retryDelivery(f.deps, ws, endpoint.id, 'missing'),
        () => recoverDeliveries(f.deps, ws, endpoint.id, since),
      ]) {
        const error = await refusal(call())
        expect([error.status, error.detail]).toEqual([409, `Webhook endpoint '${endpoint.id}' is disabled; enable it (PATCH {"enabled": true}) first.`])
      }
      expect((await listDeliveries(f.deps, ws, endpoint.id, 'failed', FIRST_PAGE)).pagination.total).toBe(2)

      // Delete takes the log with it.
      await deleteEndpoint(f.deps, ws, endpoint.id)
      expect((await refusal(getEndpoint(f.deps, ws, endpoint.id))).status).toBe(404)
      const [left] = await f.exec('SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = ?', endpoint.id)
      expect(Number(left!.n)).toBe(0)
    })

    test('secrets at rest: a wrong key is refused at start; re-sealing moves every value to the new key at once', async () => {
      const ws = await f.workspace()
      await createEndpoint(f.deps, ws, { url: URL, headers: { 'x-a': '1' } })
      const plainDeps = { ...f.deps, config: { ...f.deps.config, secretKey: undefined } }
      const { endpoint: plain } = await createEndpoint(plainDeps, await f.workspace(), { url: URL })
      const store = { db: f.deps.db, pg: f.deps.pg }
      const current = createSecretBox(createKeyBuffer(KEY))
      const next = createSecretBox(createKeyBuffer(OTHER_KEY))
      await assertSecretKeyFits(store, current)
      await expect(assertSecretKeyFits(store, next)).rejects.toThrow(SecretKeyError)
      // A key that cannot open every value changes nothing.
      await expect(resealAll(store, next, next)).rejects.toThrow(SecretKeyError)
      await assertSecretKeyFits(store, current)

      const endpoints = Number((await f.exec('SELECT count(*) AS n FROM webhook_endpoints'))[0]!.n)
      const result = await resealAll(store, current, next)
      expect(result.endpoints).toBe(endpoints)
      await assertSecretKeyFits(store, next)
      const [row] = await f.exec('SELECT secret FROM webhook_endpoints WHERE id = ?', plain.id)
      expect(next.open(String(row!.secret))).toBe(plain.secret)
      const sealed = await f.exec('SELECT secret, previous_secret, headers FROM webhook_endpoints')
      const values = sealed.flatMap((r) => [r.secret, r.previous_secret, ...Object.values(JSON.parse(String(r.headers)))]).filter((v) => v !== null)
      expect(result.encrypted).toBe(values.length)
    })
  })
}

function createKeyBuffer(base64: string): Buffer {
  return Buffer.from(base64, 'base64')
}

describe.skipIf(skipUnlessPg('webhook endpoint cap across PostgreSQL nodes'))('endpoint cap across nodes on PostgreSQL', () => {
  test('40 concurrent creations from 3 nodes with a cap of 20: exactly 20 created, 20 refused with the 422', async () => {
    const f = await openEngine('postgres', { ASKAD_WEBHOOK_MAX_ENDPOINTS: '20' })
    try {
      const nodes = f.nodes(3)
      const ws = await f.workspace()
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => createEndpoint(nodes[i % 3]!, ws, { url: `${URL}/${i}` })))
      const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20)
      expect(refused).toHaveLength(20)
      for (const error of refused) expect(error).toBeInstanceOf(ApiError)
      expect(new Set(refused.map((e: ApiError) => e.status))).toEqual(new Set([422]))
      const [row] = await f.exec('SELECT count(*) AS n FROM webhook_endpoints WHERE workspace_id = ?', ws)
      expect(Number(row!.n)).toBe(20)
    } finally {
      await f.close()
    }
  }, 30_000)
})

describe.skipIf(skipUnlessPg('webhook endpoint changes across PostgreSQL nodes'))('endpoint changes across nodes on PostgreSQL', () => {
  let f: EngineFixture
  beforeAll(async () => {
    f = await openEngine('postgres')
  })
  afterAll(() => f?.close())

  test('30 concurrent enables of a disabled endpoint from 3 nodes: one enables it and wakes the dispatcher', async () => {
    const nodes = f.nodes(3)
    const ws = await f.workspace()
    const { endpoint } = await createEndpoint(f.deps, ws, { url: URL, enabled: false })
    await f.exec("UPDATE webhook_endpoints SET disabled_reason = 'gone', failing_since = 5 WHERE id = ?", endpoint.id)
    const before = f.woken()
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => updateEndpoint(nodes[i % 3]!, ws, endpoint.id, { enabled: true })))
    expect(results.every((e) => e.enabled && e.disabledReason === null && e.failingSince === null)).toBe(true)
    expect(f.woken() - before).toBe(1)
  }, 30_000)

  test('20 concurrent rotations from 3 nodes: each keeps the secret the one before it made', async () => {
    const nodes = f.nodes(3)
    const ws = await f.workspace()
    const { endpoint } = await createEndpoint(f.deps, ws, { url: URL })
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => rotateSecret(nodes[i % 3]!, ws, endpoint.id)))
    const made = new Set([endpoint.secret, ...results.map((r) => r.endpoint.secret)])
    const kept = results.map((r) => r.endpoint.previousSecret)
    // A chain: every previous secret is a different one of those made, and only the last one made is not kept.
    expect(new Set(kept).size).toBe(20)
    for (const secret of kept) expect(made.has(secret!)).toBe(true)
    const final = await getEndpoint(f.deps, ws, endpoint.id)
    expect(kept).not.toContain(final.secret)
  }, 30_000)
})
