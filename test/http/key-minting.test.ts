/** A key minted by a key never outlives or out-rates its creator, and no key's rate limit is absurd (API and CLI). */
import { afterAll, describe, expect, test } from 'bun:test'
import { keyCreate } from '../../src/cli/key'
import { MAX_KEY_RATE_LIMIT } from '../../src/modules/api-keys/model'
import { createHarness, expectProblem } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness({ env: { ASKAD_RATE_LIMIT: '100/60s' } })
afterAll(() => h.close())
const DAY = 24 * 60 * 60 * 1000

const mint = (key: string, body: Record<string, unknown>) => h.request('POST', '/api/v1/api-keys', { key, body })

describe('rate_limit', () => {
  test('an absurd rate_limit is 422 naming the maximum', async () => {
    const ws = await h.workspace()
    for (const rate_limit of [1e300, MAX_KEY_RATE_LIMIT + 1]) {
      const problem = await expectProblem(await mint(ws.key, { kind: 'secret', rate_limit }), 422, ['/rate_limit'])
      expect(problem.detail).toContain(String(MAX_KEY_RATE_LIMIT))
    }
  })

  test("above the creator's own rate_limit is 422 naming it; at it is fine", async () => {
    const ws = await h.workspace('rl-own', { rateLimit: 500 })
    const problem = await expectProblem(await mint(ws.key, { kind: 'secret', rate_limit: 501 }), 422, ['/rate_limit'])
    expect(problem.detail).toContain('500')
    expect((await mint(ws.key, { kind: 'secret', rate_limit: 500 })).status).toBe(201)
  })

  test('a creator without its own rate_limit has the instance default as its ceiling', async () => {
    const ws = await h.workspace()
    await expectProblem(await mint(ws.key, { kind: 'secret', rate_limit: 101 }), 422, ['/rate_limit'])
    expect((await mint(ws.key, { kind: 'secret', rate_limit: 100 })).status).toBe(201)
  })

  test("a child that names no rate_limit inherits its creator's when that is below the instance default", async () => {
    const ws = await h.workspace('rl-low', { rateLimit: 10 })
    const child = await (await mint(ws.key, { kind: 'secret' })).json()
    expect(child.rate_limit).toBe(10)
    const open = await h.workspace()
    expect((await (await mint(open.key, { kind: 'secret' })).json()).rate_limit).toBeNull()
  })

  // SQLite only for now: the CLI's keyCreate is handed the SQLite database.
  test('the CLI has no creator, but the maximum applies', async () => {
    const ws = await h.workspace()
    const out = { json: true, result: () => {} }
    await expect(keyCreate(h.deps, out, { workspace: ws.slug, 'rate-limit': '1e300' })).rejects.toThrow(String(MAX_KEY_RATE_LIMIT))
    await expect(keyCreate(h.deps, out, { workspace: ws.slug, 'rate-limit': String(MAX_KEY_RATE_LIMIT) })).resolves.toBeUndefined()
  })
})

describe('expires_at', () => {
  test("after the creator's expiry is 422 naming it; before it is fine", async () => {
    const parentExpiry = h.clock.now() + 7 * DAY
    const ws = await h.workspace(undefined, { expiresAt: parentExpiry })
    const later = new Date(parentExpiry + DAY).toISOString()
    const problem = await expectProblem(await mint(ws.key, { kind: 'secret', expires_at: later }), 422, ['/expires_at'])
    expect(problem.detail).toContain(new Date(parentExpiry).toISOString())
    expect((await mint(ws.key, { kind: 'secret', expires_at: new Date(parentExpiry - DAY).toISOString() })).status).toBe(201)
  })

  test("a child without expires_at gets its creator's expiry, and stops working with it", async () => {
    const parentExpiry = h.clock.now() + 7 * DAY
    const ws = await h.workspace(undefined, { expiresAt: parentExpiry })
    const child = await (await mint(ws.key, { kind: 'secret' })).json()
    expect(child.expires_at).toBe(new Date(parentExpiry).toISOString())
    h.clock.advance(8 * DAY)
    expect((await h.request('GET', '/api/v1/contacts', { key: child.key })).status).toBe(401)
  })

  test('a creator without expiry may mint a key with any expiry or none', async () => {
    const ws = await h.workspace()
    expect((await (await mint(ws.key, { kind: 'secret' })).json()).expires_at).toBeNull()
    const far = new Date(h.clock.now() + 3650 * DAY).toISOString()
    expect((await (await mint(ws.key, { kind: 'secret', expires_at: far })).json()).expires_at).toBe(far)
  })
})

test('a publishable key lists at most 100 origins', async () => {
  const h = createHarness()
  try {
    const ws = await h.workspace()
    const origins = (n: number) => Array.from({ length: n }, (_, i) => `https://site${i}.example`)
    const ok = await h.request('POST', '/api/v1/api-keys', { key: ws.key, body: { kind: 'publishable', allowed_origins: origins(100) } })
    expect(ok.status).toBe(201)
    await expectProblem(await h.request('POST', '/api/v1/api-keys', { key: ws.key, body: { kind: 'publishable', allowed_origins: origins(101) } }), 422, [
      '/allowed_origins',
    ])
  } finally {
    h.close()
  }
})
