/** Campaigns: CRUD, exact money, spend reports and thresholds that fire exactly once, even under races. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { newId } from '../../src/lib/ids'
import { createHarness, type Harness, TEST_ENGINE } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

// Webhook endpoints here point at a closed local port: saved, never reached.
const h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
afterAll(() => h.close())

const base = { name: 'Spring search ads', currency: 'USD', budget: 5000, spend_thresholds: [1000, 250.5] }

async function create(key: string, body: Record<string, unknown> = base) {
  const res = await h.request('POST', '/api/v1/campaigns', { key, body })
  expect(res.status).toBe(201)
  return (await res.json()) as { id: string; [k: string]: unknown }
}

async function spend(key: string, id: string, body: Record<string, unknown>) {
  return h.request('POST', `/api/v1/campaigns/${id}/spend`, { key, body })
}

/** The threshold events recorded for a campaign, oldest first (event ids are time-ordered, made inside the write). */
async function thresholdEvents(harness: Harness, campaignId: string) {
  return (await harness.rows.all('events', { type: 'campaign.spend_threshold' }))
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((e) => JSON.parse(e.payload) as { id: string; type: string; data: { campaign: { id: string }; threshold: number; spend: number } })
    .filter((e) => e.data.campaign.id === campaignId)
}

async function expectInvalid(res: Response, path: string) {
  expect(res.status).toBe(422)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  const body = (await res.json()) as { errors: { path: string; message: string }[] }
  expect(body.errors.map((e) => e.path)).toContain(path)
}

describe('create, read, list', async () => {
  const ws = await h.workspace()

  test('POST answers 201 with money as decimals, thresholds sorted and deduplicated', async () => {
    const res = await h.request('POST', '/api/v1/campaigns', { key: ws.key, body: { ...base, budget: '4999.99', spend_thresholds: [1000, 250.5, '1000.00'] } })
    expect(res.status).toBe(201)
    const c = await res.json()
    expect(res.headers.get('location')).toBe(`/api/v1/campaigns/${c.id}`)
    expect(c).toMatchObject({
      object: 'campaign',
      name: 'Spring search ads',
      currency: 'USD',
      budget: 4999.99,
      spend: 0,
      spend_thresholds: [250.5, 1000],
      thresholds_crossed: [],
      created_at: new Date(h.clock.now()).toISOString(),
    })
    const got = await h.request('GET', `/api/v1/campaigns/${c.id}`, { key: ws.key })
    expect(got.status).toBe(200)
    expect(await got.json()).toEqual(c)
  })

  test('budget and thresholds are optional', async () => {
    const c = await create(ws.key, { name: 'No plan', currency: 'EUR' })
    expect(c).toMatchObject({ budget: null, spend_thresholds: [], currency: 'EUR' })
  })

  test('list is newest first, paginated, with Link header and cursor', async () => {
    const other = await h.workspace()
    const names = ['a', 'b', 'c']
    for (const name of names) await create(other.key, { name, currency: 'USD' })
    const all = await (await h.request('GET', '/api/v1/campaigns', { key: other.key })).json()
    expect(all.data.map((c: { name: string }) => c.name)).toEqual(['c', 'b', 'a'])
    expect(all.pagination).toMatchObject({ page: 1, limit: 50, total: 3, has_more: false })

    const p2 = await h.request('GET', '/api/v1/campaigns?page=2&limit=1', { key: other.key })
    const page2 = await p2.json()
    expect(page2.data.map((c: { name: string }) => c.name)).toEqual(['b'])
    expect(page2.pagination).toMatchObject({ page: 2, limit: 1, total: 3, has_more: true })
    expect(p2.headers.get('link')).toContain('rel="next"')
    expect(p2.headers.get('link')).toContain('page=3')

    const first = await (await h.request('GET', '/api/v1/campaigns?limit=2', { key: other.key })).json()
    const rest = await (await h.request('GET', `/api/v1/campaigns?limit=2&after=${first.pagination.next_cursor}`, { key: other.key })).json()
    expect([...first.data, ...rest.data].map((c: { name: string }) => c.name)).toEqual(['c', 'b', 'a'])
    expect(rest.pagination.has_more).toBe(false)
  })

  test('lists never show or count another workspace', async () => {
    const a = await h.workspace()
    const b = await h.workspace()
    await create(a.key)
    const list = await (await h.request('GET', '/api/v1/campaigns', { key: b.key })).json()
    expect(list.data).toEqual([])
    expect(list.pagination.total).toBe(0)
  })
})

describe('spend', async () => {
  // The races below send more requests than the default per-key rate limit lets through.
  const ws = await h.workspace(undefined, { rateLimit: 10_000 })

  test('amounts add up exactly (0.1 + 0.2 is 0.3)', async () => {
    const c = await create(ws.key, { name: 'Exact', currency: 'USD' })
    await spend(ws.key, c.id, { amount: 0.1 })
    const res = await spend(ws.key, c.id, { amount: '0.2' })
    expect(res.status).toBe(200)
    expect((await res.json()).spend).toBe(0.3)
  })

  test('each threshold fires once, in order, with campaign, threshold and spend', async () => {
    const c = await create(ws.key, { name: 'T', currency: 'USD', spend_thresholds: [100, 200, 300] })
    expect((await (await spend(ws.key, c.id, { amount: 99.99 })).json()).thresholds_crossed).toEqual([])
    expect(await thresholdEvents(h, c.id)).toHaveLength(0)

    const after = await (await spend(ws.key, c.id, { amount: 150.01 })).json()
    expect(after).toMatchObject({ spend: 250, thresholds_crossed: [100, 200] })
    const fired = await thresholdEvents(h, c.id)
    expect(fired.map((e) => e.data.threshold)).toEqual([100, 200])
    expect(fired[0]!.data).toMatchObject({ threshold: 100, spend: 250, campaign: { id: c.id, spend: 250, thresholds_crossed: [100, 200] } })
    expect(fired[0]!.id).toMatch(/^msg_/)

    await spend(ws.key, c.id, { amount: 10 })
    expect(await thresholdEvents(h, c.id)).toHaveLength(2)
    await spend(ws.key, c.id, { total: 300 })
    expect((await thresholdEvents(h, c.id)).map((e) => e.data.threshold)).toEqual([100, 200, 300])
  })

  test('total sets the spend; equal changes nothing; lower is a 409 and keeps the spend', async () => {
    const c = await create(ws.key, { name: 'Totals', currency: 'USD', spend_thresholds: [50] })
    expect((await (await spend(ws.key, c.id, { total: 60 })).json()).spend).toBe(60)
    const same = await spend(ws.key, c.id, { total: '60.00' })
    expect(same.status).toBe(200)
    const lower = await spend(ws.key, c.id, { total: 59.99 })
    expect(lower.status).toBe(409)
    expect((await lower.json()).detail).toMatch(/below the current spend 60/)
    expect((await (await h.request('GET', `/api/v1/campaigns/${c.id}`, { key: ws.key })).json()).spend).toBe(60)
    expect(await thresholdEvents(h, c.id)).toHaveLength(1)
  })

  test('thresholds queue webhook deliveries in the same transaction and wake the dispatcher after commit', async () => {
    const other = await h.workspace()
    const hook = await h.request('POST', '/api/v1/webhooks', { key: other.key, body: { url: 'http://127.0.0.1:9/x', events: ['campaign.spend_threshold'] } })
    expect(hook.status).toBe(201)
    let wakes = 0
    const wake = h.deps.wake
    h.deps.wake = () => void wakes++
    try {
      const c = await create(other.key, { name: 'Hooked', currency: 'USD', spend_thresholds: [1, 2] })
      await spend(other.key, c.id, { amount: 5 })
      const fired = await thresholdEvents(h, c.id)
      expect(fired).toHaveLength(2)
      for (const e of fired) expect(await h.rows.all('webhookDeliveries', { eventId: e.id })).toHaveLength(1)
      expect(wakes).toBe(1)
    } finally {
      h.deps.wake = wake
    }
  })

  // Through HTTP in one process: requests interleave at every await, never inside the transaction.
  test('50 concurrent spend requests cross each threshold exactly once', async () => {
    const c = await create(ws.key, { name: 'Race', currency: 'USD', spend_thresholds: [100, 250, 499.99, 500, 600] })
    const responses = await Promise.all(Array.from({ length: 50 }, () => spend(ws.key, c.id, { amount: 10 })))
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200))
    const final = await (await h.request('GET', `/api/v1/campaigns/${c.id}`, { key: ws.key })).json()
    expect(final).toMatchObject({ spend: 500, thresholds_crossed: [100, 250, 499.99, 500] })
    expect((await thresholdEvents(h, c.id)).map((e) => e.data.threshold)).toEqual([100, 250, 499.99, 500])
  })

  // The real race: four processes writing one file. Without BEGIN IMMEDIATE around read-check-write,
  // updates are lost and thresholds fire more than once (or writers fail with SQLITE_BUSY).
  // SQLite only: the workers open the database file itself; PostgreSQL's races are the store contract tests'.
  const sqliteTest = test.skipIf(TEST_ENGINE === 'postgres')
  sqliteTest(
    'separate processes racing on the same database file still fire each threshold once',
    async () => {
      const c = await create(ws.key, { name: 'Multi-process race', currency: 'USD', spend_thresholds: [10, 50, 99.5, 100, 200] })
      const src = join(import.meta.dir, '../../src')
      const worker = `
      import { CLI_BUSY_TIMEOUT_MS, openDb } from ${JSON.stringify(join(src, 'db/client'))}
      import { recordSpend } from ${JSON.stringify(join(src, 'modules/campaigns/service'))}
      // Plain scripts, not servers: they may wait for each other's lock like the CLI does.
      const db = openDb(process.env.DB_PATH, { busyTimeoutMs: CLI_BUSY_TIMEOUT_MS })
      const deps = { db, clock: { now: () => Date.now() }, wake() {} }
      await Bun.sleep(Number(process.env.START_AT) - Date.now())
      for (let i = 0; i < 25; i++) await recordSpend(deps, process.env.WS, process.env.CAMPAIGN, { amount: 1 })
      db.$client.close()
    `
      const env = { ...process.env, DB_PATH: h.dbPath, WS: ws.id, CAMPAIGN: c.id, START_AT: String(Date.now() + 1500) }
      const workers = Array.from({ length: 4 }, () => Bun.spawn([process.execPath, '-e', worker], { env, stderr: 'pipe' }))
      for (const w of workers) {
        const code = await w.exited
        if (code !== 0) throw new Error(await new Response(w.stderr).text())
      }
      const final = await (await h.request('GET', `/api/v1/campaigns/${c.id}`, { key: ws.key })).json()
      expect(final).toMatchObject({ spend: 100, thresholds_crossed: [10, 50, 99.5, 100] })
      expect((await thresholdEvents(h, c.id)).map((e) => e.data.threshold)).toEqual([10, 50, 99.5, 100])
    },
    20_000,
  )
})

describe('PATCH', async () => {
  const ws = await h.workspace()

  test('changes name and budget; null removes the budget; currency is not patchable', async () => {
    const c = await create(ws.key)
    h.clock.advance(1000)
    const res = await h.request('PATCH', `/api/v1/campaigns/${c.id}`, { key: ws.key, body: { name: ' Renamed ', budget: 7000.5 } })
    expect(res.status).toBe(200)
    const patched = await res.json()
    expect(patched).toMatchObject({ name: 'Renamed', budget: 7000.5, currency: 'USD', created_at: c.created_at })
    expect(patched.updated_at).not.toBe(c.updated_at)
    expect((await (await h.request('PATCH', `/api/v1/campaigns/${c.id}`, { key: ws.key, body: { budget: null } })).json()).budget).toBeNull()
  })

  test('crossed thresholds stay crossed; a new one below the spend fires at once; a re-added one never fires twice', async () => {
    const c = await create(ws.key, { name: 'Moving targets', currency: 'USD', spend_thresholds: [100] })
    await spend(ws.key, c.id, { total: 150 })
    expect((await thresholdEvents(h, c.id)).map((e) => e.data.threshold)).toEqual([100])

    const patch = (spend_thresholds: number[]) => h.request('PATCH', `/api/v1/campaigns/${c.id}`, { key: ws.key, body: { spend_thresholds } })
    const added = await (await patch([100, 120, 300])).json()
    expect(added).toMatchObject({ spend_thresholds: [100, 120, 300], thresholds_crossed: [100, 120] })
    expect((await thresholdEvents(h, c.id)).map((e) => e.data.threshold)).toEqual([100, 120])
    expect((await thresholdEvents(h, c.id))[1]!.data.spend).toBe(150)

    expect((await (await patch([300])).json()).thresholds_crossed).toEqual([])
    expect((await (await patch([100, 300])).json()).thresholds_crossed).toEqual([100])
    expect(await thresholdEvents(h, c.id)).toHaveLength(2)

    await spend(ws.key, c.id, { amount: 150 })
    expect((await thresholdEvents(h, c.id)).map((e) => e.data.threshold)).toEqual([100, 120, 300])
  })
})

describe('validation (422 with paths)', async () => {
  const ws = await h.workspace()

  test('create', async () => {
    const post = (body: unknown) => h.request('POST', '/api/v1/campaigns', { key: ws.key, body })
    await expectInvalid(await post({ currency: 'USD' }), '/name')
    await expectInvalid(await post({ name: '   ', currency: 'USD' }), '/name')
    await expectInvalid(await post({ name: 'x', currency: 'usd' }), '/currency')
    await expectInvalid(await post({ name: 'x', currency: 'USD', budget: 1.234 }), '/budget')
    await expectInvalid(await post({ name: 'x', currency: 'USD', budget: -1 }), '/budget')
    await expectInvalid(await post({ name: 'x', currency: 'USD', spend_thresholds: [10, '1e3'] }), '/spend_thresholds/1')
    await expectInvalid(await post({ name: 'x', currency: 'USD', spend_thresholds: [0] }), '/spend_thresholds/0')
    await expectInvalid(await post({ name: 'x', currency: 'USD', spend_thresholds: [true] }), '/spend_thresholds/0')
    await expectInvalid(await post({ name: 'x', currency: 'USD', spend_thresholds: Array(101).fill(1) }), '/spend_thresholds')
    expect((await h.request('GET', '/api/v1/campaigns', { key: ws.key })).status).toBe(200)
    expect((await (await h.request('GET', '/api/v1/campaigns', { key: ws.key })).json()).pagination.total).toBe(0)
  })

  test('spend: exactly one of amount or total, positive amounts', async () => {
    const c = await create(ws.key)
    await expectInvalid(await spend(ws.key, c.id, {}), '/amount')
    await expectInvalid(await spend(ws.key, c.id, { amount: 1, total: 2 }), '/total')
    await expectInvalid(await spend(ws.key, c.id, { amount: 0 }), '/amount')
    await expectInvalid(await spend(ws.key, c.id, { amount: -5 }), '/amount')
    await expectInvalid(await spend(ws.key, c.id, { amount: 0.001 }), '/amount')
    await expectInvalid(await spend(ws.key, c.id, { total: 'lots' }), '/total')
    await expectInvalid(await spend(ws.key, c.id, { amount: [1] }), '/amount')
    expect((await (await h.request('GET', `/api/v1/campaigns/${c.id}`, { key: ws.key })).json()).spend).toBe(0)
  })

  test('patch and list query', async () => {
    const c = await create(ws.key)
    await expectInvalid(await h.request('PATCH', `/api/v1/campaigns/${c.id}`, { key: ws.key, body: { spend_thresholds: [-1] } }), '/spend_thresholds/0')
    await expectInvalid(await h.request('PATCH', `/api/v1/campaigns/${c.id}`, { key: ws.key, body: { name: '' } }), '/name')
    await expectInvalid(await h.request('GET', '/api/v1/campaigns?limit=0', { key: ws.key }), 'query.limit')
    await expectInvalid(await h.request('GET', '/api/v1/campaigns?after=garbage', { key: ws.key }), 'query.after')
  })
})

describe('auth, scopes and other workspaces', async () => {
  const ws = await h.workspace()
  const other = await h.workspace()
  const readOnly = await h.key(ws.id, { scopes: ['campaigns:read'] })
  const writeOnly = await h.key(ws.id, { scopes: ['campaigns:write'] })
  let id = ''
  let foreignId = ''

  beforeAll(async () => {
    id = (await create(ws.key)).id
    foreignId = (await create(other.key)).id
  })

  const endpoints = () => [
    { method: 'GET', path: '/api/v1/campaigns', scope: 'campaigns:read' },
    { method: 'POST', path: '/api/v1/campaigns', scope: 'campaigns:write', body: base },
    { method: 'GET', path: `/api/v1/campaigns/${id}`, scope: 'campaigns:read' },
    { method: 'PATCH', path: `/api/v1/campaigns/${id}`, scope: 'campaigns:write', body: { name: 'x' } },
    { method: 'POST', path: `/api/v1/campaigns/${id}/spend`, scope: 'campaigns:write', body: { amount: 1 } },
  ]

  test('401 without a key or with a bad one', async () => {
    for (const e of endpoints()) {
      expect((await h.request(e.method, e.path, { body: e.body })).status).toBe(401)
      expect((await h.request(e.method, e.path, { body: e.body, key: 'ask_sk_nope' })).status).toBe(401)
    }
  })

  test('403 when the key lacks the scope; nothing changes', async () => {
    for (const e of endpoints()) {
      const key = e.scope === 'campaigns:read' ? writeOnly.key : readOnly.key
      const res = await h.request(e.method, e.path, { body: e.body, key })
      expect(res.status).toBe(403)
      expect((await res.json()).detail).toContain(e.scope)
    }
    const c = await (await h.request('GET', `/api/v1/campaigns/${id}`, { key: readOnly.key })).json()
    expect(c).toMatchObject({ name: base.name, spend: 0 })
  })

  test("404 for another workspace's id (and an unknown one) on every endpoint; nothing changes", async () => {
    for (const target of [foreignId, newId()]) {
      for (const [method, path, body] of [
        ['GET', `/api/v1/campaigns/${target}`, undefined],
        ['PATCH', `/api/v1/campaigns/${target}`, { name: 'hijacked', spend_thresholds: [0.01] }],
        ['POST', `/api/v1/campaigns/${target}/spend`, { amount: 1 }],
      ] as const) {
        const res = await h.request(method, path, { key: ws.key, body })
        expect(res.status).toBe(404)
        expect(res.headers.get('content-type')).toBe('application/problem+json')
      }
    }
    const foreign = await (await h.request('GET', `/api/v1/campaigns/${foreignId}`, { key: other.key })).json()
    expect(foreign).toMatchObject({ name: base.name, spend: 0, spend_thresholds: [250.5, 1000] })
    expect(await thresholdEvents(h, foreignId)).toHaveLength(0)
  })
})
