/** Deals: create with exact money, list by stage with pagination, read, edit. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHarness, expectProblem } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

const STAGES = 'new, qualified, proposal, negotiation, won, lost'

async function createDeal(key: string, body: Record<string, unknown>) {
  const res = await h.request('POST', '/api/v1/deals', { key, body })
  expect(res.status).toBe(201)
  return res.json()
}

describe('POST /deals', async () => {
  const ws = await h.workspace()

  test('creates a deal with defaults: value 0, USD, stage new', async () => {
    const res = await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: '  Starter plan  ' } })
    expect(res.status).toBe(201)
    const deal = await res.json()
    expect(res.headers.get('location')).toBe(`/api/v1/deals/${deal.id}`)
    expect(deal).toEqual({
      id: expect.any(String),
      object: 'deal',
      title: 'Starter plan',
      value: 0,
      currency: 'USD',
      stage: 'new',
      contact_id: null,
      lead_id: null,
      metadata: {},
      closed_at: null,
      created_at: new Date(h.clock.now()).toISOString(),
      updated_at: new Date(h.clock.now()).toISOString(),
    })
  })

  test('money is exact, from a JSON number or a decimal string', async () => {
    const cases: [unknown, number][] = [
      [19.99, 19.99],
      ['0.10', 0.1],
      [0.3, 0.3],
      ['1234567.89', 1234567.89],
      [90071992547409.91, 90071992547409.91],
      [5, 5],
    ]
    for (const [value, expected] of cases) {
      const deal = await createDeal(ws.key, { title: 'Money', value, currency: 'EUR' })
      expect(deal.value).toBe(expected)
      expect((await (await h.request('GET', `/api/v1/deals/${deal.id}`, { key: ws.key })).json()).value).toBe(expected)
    }
  })

  test('links a contact of the workspace and keeps metadata', async () => {
    const lead = await (await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'buyer@example.com' } })).json()
    const deal = await createDeal(ws.key, { title: 'Linked', contact_id: lead.contact_id, stage: 'proposal', metadata: { owner: 'sam', tags: ['a'] } })
    expect(deal).toMatchObject({ contact_id: lead.contact_id, stage: 'proposal', metadata: { owner: 'sam', tags: ['a'] } })
  })

  test('validation failures are 422 with their path', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, '/title'],
      [{ title: '   ' }, '/title'],
      [{ title: 'x'.repeat(201) }, '/title'],
      [{ title: 'A', value: 10.005 }, '/value'],
      [{ title: 'A', value: '1.234' }, '/value'],
      [{ title: 'A', value: -1 }, '/value'],
      [{ title: 'A', value: '1e3' }, '/value'],
      [{ title: 'A', value: 90071992547409.92 }, '/value'],
      [{ title: 'A', value: true }, '/value'],
      [{ title: 'A', currency: 'usd' }, '/currency'],
      [{ title: 'A', currency: 'DOLLAR' }, '/currency'],
      [{ title: 'A', stage: 'closed_won' }, '/stage'],
      [{ title: 'A', contact_id: crypto.randomUUID() }, '/contact_id'],
      [{ title: 'A', metadata: [1] }, '/metadata'],
      [{ title: 'A', amount: 5 }, '/amount'],
    ]
    for (const [body, path] of cases) {
      await expectProblem(await h.request('POST', '/api/v1/deals', { key: ws.key, body }), 422, [path])
    }
    const stage = await (await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'A', stage: 'closed_won' } })).json()
    expect(stage.detail).toContain(STAGES)
  })

  test("another workspace's contact is refused exactly like a missing one", async () => {
    const other = await h.workspace()
    const theirs = await (await h.request('POST', '/api/v1/leads/inbound', { key: other.key, body: { email: 'theirs@example.com' } })).json()
    const foreign = await expectProblem(await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'A', contact_id: theirs.contact_id } }), 422, [
      '/contact_id',
    ])
    const missing = await expectProblem(await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'A', contact_id: 'nope' } }), 422, [
      '/contact_id',
    ])
    expect(foreign.errors[0].message.replace(theirs.contact_id, 'ID')).toBe(missing.errors[0].message.replace('nope', 'ID'))
  })
})

describe('GET /deals', async () => {
  const ws = await h.workspace()
  const ids: string[] = []

  beforeAll(async () => {
    const stages = ['new', 'negotiation', 'won', 'negotiation', 'lost', 'negotiation', 'new']
    for (const [i, stage] of stages.entries()) {
      ids.push((await createDeal(ws.key, { title: `Deal ${i}`, stage })).id)
      h.clock.advance(1000)
    }
  })

  test('lists newest first in the envelope, with Link header', async () => {
    const res = await h.request('GET', '/api/v1/deals?limit=3', { key: ws.key })
    expect(res.status).toBe(200)
    const page = await res.json()
    expect(page.data.map((d: { id: string }) => d.id)).toEqual([ids[6], ids[5], ids[4]])
    expect(page.pagination).toEqual({ page: 1, limit: 3, total: 7, has_more: true, next_cursor: expect.any(String) })
    const link = res.headers.get('link')!
    expect(link).toContain('</api/v1/deals?limit=3&page=2>; rel="next"')
    expect(link).toContain('</api/v1/deals?limit=3&page=3>; rel="last"')

    const last = await (await h.request('GET', '/api/v1/deals?limit=3&page=3', { key: ws.key })).json()
    expect(last.data.map((d: { id: string }) => d.id)).toEqual([ids[0]])
    expect(last.pagination.has_more).toBe(false)
    const beyond = await (await h.request('GET', '/api/v1/deals?limit=3&page=9', { key: ws.key })).json()
    expect(beyond.data).toEqual([])
  })

  test('a cursor walks every deal once', async () => {
    const seen: string[] = []
    let url = '/api/v1/deals?limit=2'
    for (;;) {
      const page = await (await h.request('GET', url, { key: ws.key })).json()
      seen.push(...page.data.map((d: { id: string }) => d.id))
      if (!page.pagination.next_cursor) break
      url = `/api/v1/deals?limit=2&after=${page.pagination.next_cursor}`
    }
    expect(seen).toEqual([...ids].reverse())
  })

  test('filters by stage, with pagination inside the filter', async () => {
    const page = await (await h.request('GET', '/api/v1/deals?stage=negotiation&limit=2', { key: ws.key })).json()
    expect(page.data.map((d: { id: string }) => d.id)).toEqual([ids[5], ids[3]])
    expect(page.pagination).toMatchObject({ total: 3, has_more: true })
    const won = await (await h.request('GET', '/api/v1/deals?stage=won', { key: ws.key })).json()
    expect(won.data.map((d: { id: string }) => d.id)).toEqual([ids[2]])
    const none = await (await h.request('GET', '/api/v1/deals?stage=proposal', { key: ws.key })).json()
    expect(none.pagination.total).toBe(0)
  })

  test('an unknown stage is 422 listing the six valid ones', async () => {
    const body = await expectProblem(await h.request('GET', '/api/v1/deals?stage=closed', { key: ws.key }), 422, ['query.stage'])
    expect(body.errors[0].message).toContain(STAGES)
    await expectProblem(await h.request('GET', '/api/v1/deals?stage=WON', { key: ws.key }), 422, ['query.stage'])
    await expectProblem(await h.request('GET', '/api/v1/deals?page=0', { key: ws.key }), 422, ['query.page'])
  })

  test('another workspace sees none of them', async () => {
    const other = await h.workspace()
    const page = await (await h.request('GET', '/api/v1/deals', { key: other.key })).json()
    expect(page.pagination.total).toBe(0)
  })
})

describe('GET and PATCH /deals/:id', async () => {
  const ws = await h.workspace()
  let dealId = ''
  let contactId = ''

  beforeAll(async () => {
    contactId = (await (await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'c@example.com' } })).json()).contact_id
    dealId = (await createDeal(ws.key, { title: 'Renewal', value: 100, metadata: { owner: 'sam', source: 'ads' } })).id
  })

  test('GET returns the deal; an unknown id is 404', async () => {
    const res = await h.request('GET', `/api/v1/deals/${dealId}`, { key: ws.key })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ id: dealId, title: 'Renewal', value: 100 })
    await expectProblem(await h.request('GET', `/api/v1/deals/${crypto.randomUUID()}`, { key: ws.key }), 404)
  })

  test('PATCH changes only the fields sent, merges metadata and bumps updated_at', async () => {
    h.clock.advance(5000)
    const res = await h.request('PATCH', `/api/v1/deals/${dealId}`, {
      key: ws.key,
      body: { value: '2500.50', currency: 'GBP', stage: 'proposal', contact_id: contactId, metadata: { source: null, next_step: 'call' } },
    })
    expect(res.status).toBe(200)
    const deal = await res.json()
    expect(deal).toMatchObject({
      title: 'Renewal',
      value: 2500.5,
      currency: 'GBP',
      stage: 'proposal',
      contact_id: contactId,
      metadata: { owner: 'sam', next_step: 'call' },
    })
    expect(deal.updated_at).toBe(new Date(h.clock.now()).toISOString())
    expect(deal.updated_at).not.toBe(deal.created_at)
    expect(await (await h.request('GET', `/api/v1/deals/${dealId}`, { key: ws.key })).json()).toEqual(deal)
  })

  test('contact_id null unlinks', async () => {
    const deal = await (await h.request('PATCH', `/api/v1/deals/${dealId}`, { key: ws.key, body: { contact_id: null } })).json()
    expect(deal.contact_id).toBeNull()
  })

  test('closed_at is set on entering won or lost and cleared on reopening', async () => {
    h.clock.advance(1000)
    const won = await (await h.request('PATCH', `/api/v1/deals/${dealId}`, { key: ws.key, body: { stage: 'won' } })).json()
    expect(won.closed_at).toBe(new Date(h.clock.now()).toISOString())
    h.clock.advance(1000)
    const again = await (await h.request('PATCH', `/api/v1/deals/${dealId}`, { key: ws.key, body: { stage: 'won', title: 'Renewal 2027' } })).json()
    expect(again.closed_at).toBe(won.closed_at)
    const reopened = await (await h.request('PATCH', `/api/v1/deals/${dealId}`, { key: ws.key, body: { stage: 'negotiation' } })).json()
    expect(reopened.closed_at).toBeNull()
  })

  test('PATCH validation failures are 422 with their path and change nothing', async () => {
    const before = await (await h.request('GET', `/api/v1/deals/${dealId}`, { key: ws.key })).json()
    const cases: [Record<string, unknown>, string][] = [
      [{ stage: 'done' }, '/stage'],
      [{ value: 1.001 }, '/value'],
      [{ currency: 'eur' }, '/currency'],
      [{ title: '' }, '/title'],
      [{ contact_id: crypto.randomUUID() }, '/contact_id'],
      [{ lead_id: crypto.randomUUID() }, '/lead_id'],
    ]
    for (const [body, path] of cases) {
      await expectProblem(await h.request('PATCH', `/api/v1/deals/${dealId}`, { key: ws.key, body }), 422, [path])
    }
    expect(await (await h.request('GET', `/api/v1/deals/${dealId}`, { key: ws.key })).json()).toEqual(before)
  })
})

describe('auth, scopes and other workspaces', async () => {
  const ws = await h.workspace()
  const other = await h.workspace()
  let dealId = ''

  beforeAll(async () => {
    dealId = (await createDeal(ws.key, { title: 'Secret deal', value: 1 })).id
  })

  test('no key is 401 on every route', async () => {
    await expectProblem(await h.request('GET', '/api/v1/deals'), 401)
    await expectProblem(await h.request('POST', '/api/v1/deals', { body: { title: 'x' } }), 401)
    await expectProblem(await h.request('GET', `/api/v1/deals/${dealId}`), 401)
    await expectProblem(await h.request('PATCH', `/api/v1/deals/${dealId}`, { body: { title: 'x' } }), 401)
  })

  test('a key without the scope is 403', async () => {
    const readOnly = (await h.key(ws.id, { scopes: ['deals:read'] })).key
    const writeOnly = (await h.key(ws.id, { scopes: ['deals:write'] })).key
    await expectProblem(await h.request('GET', '/api/v1/deals', { key: writeOnly }), 403)
    await expectProblem(await h.request('GET', `/api/v1/deals/${dealId}`, { key: writeOnly }), 403)
    await expectProblem(await h.request('POST', '/api/v1/deals', { key: readOnly, body: { title: 'x' } }), 403)
    await expectProblem(await h.request('PATCH', `/api/v1/deals/${dealId}`, { key: readOnly, body: { title: 'x' } }), 403)
    expect((await h.request('GET', `/api/v1/deals/${dealId}`, { key: readOnly })).status).toBe(200)
  })

  test("another workspace's deal is 404 and stays untouched", async () => {
    await expectProblem(await h.request('GET', `/api/v1/deals/${dealId}`, { key: other.key }), 404)
    await expectProblem(await h.request('PATCH', `/api/v1/deals/${dealId}`, { key: other.key, body: { stage: 'lost' } }), 404)
    expect((await (await h.request('GET', `/api/v1/deals/${dealId}`, { key: ws.key })).json()).stage).toBe('new')
  })
})
