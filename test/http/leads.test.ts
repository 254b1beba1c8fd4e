/** Leads: list with filters and pagination, read one, convert into a deal. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHarness, expectProblem } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

describe('GET /leads', async () => {
  const ws = await h.workspace()
  const ids: string[] = []
  let janeContact = ''

  test('lists every lead newest first with the envelope and Link header', async () => {
    for (let i = 0; i < 5; i++) {
      const lead = await h.pushLead(ws.key, {
        email: i % 2 ? 'jane@example.com' : `p${i}@example.com`,
        source: i < 3 ? 'hubspot' : 'typeform',
        metadata: { n: i },
      })
      ids.push(lead.id)
      if (i === 1) janeContact = lead.contact_id
      h.clock.advance(60_000)
    }
    const res = await h.request('GET', '/api/v1/leads?limit=2', { key: ws.key })
    expect(res.status).toBe(200)
    const page = await res.json()
    expect(page.pagination).toEqual({ page: 1, limit: 2, total: 5, has_more: true, next_cursor: expect.any(String) })
    expect(page.data.map((l: { id: string }) => l.id)).toEqual([ids[4], ids[3]])
    expect(page.data[0]).toMatchObject({ object: 'lead', channel: 'inbound', source: 'typeform', status: 'new', deal_id: null, metadata: { n: 4 } })
    expect(res.headers.get('link')).toContain('page=2>; rel="next"')
    expect(res.headers.get('link')).toContain('page=3>; rel="last"')

    const last = await (await h.request('GET', '/api/v1/leads?limit=2&page=3', { key: ws.key })).json()
    expect(last.data.map((l: { id: string }) => l.id)).toEqual([ids[0]])
    expect(last.pagination.has_more).toBe(false)
  })

  test('a cursor walks everything once', async () => {
    const seen: string[] = []
    let url = '/api/v1/leads?limit=2'
    for (;;) {
      const page = await (await h.request('GET', url, { key: ws.key })).json()
      seen.push(...page.data.map((l: { id: string }) => l.id))
      if (!page.pagination.next_cursor) break
      url = `/api/v1/leads?limit=2&after=${page.pagination.next_cursor}`
    }
    expect(seen).toEqual([...ids].reverse())
  })

  test('filters by source, contact_id, created_since and status', async () => {
    const bySource = await (await h.request('GET', '/api/v1/leads?source=hubspot', { key: ws.key })).json()
    expect(bySource.data.map((l: { id: string }) => l.id)).toEqual([ids[2], ids[1], ids[0]])
    expect(bySource.pagination.total).toBe(3)

    const byContact = await (await h.request('GET', `/api/v1/leads?contact_id=${janeContact}`, { key: ws.key })).json()
    expect(byContact.data.map((l: { id: string }) => l.id)).toEqual([ids[3], ids[1]])

    const since = new Date(Date.parse('2026-11-01T12:00:00Z') + 3 * 60_000).toISOString()
    const recent = await (await h.request('GET', `/api/v1/leads?created_since=${since}`, { key: ws.key })).json()
    expect(recent.data.map((l: { id: string }) => l.id)).toEqual([ids[4], ids[3]])

    expect((await h.request('POST', `/api/v1/leads/${ids[0]}/convert`, { key: ws.key })).status).toBe(201)
    const converted = await (await h.request('GET', '/api/v1/leads?status=converted', { key: ws.key })).json()
    expect(converted.data.map((l: { id: string }) => l.id)).toEqual([ids[0]])
    const open = await (await h.request('GET', '/api/v1/leads?status=new&source=hubspot', { key: ws.key })).json()
    expect(open.data.map((l: { id: string }) => l.id)).toEqual([ids[2], ids[1]])
    expect(open.pagination.total).toBe(2)
  })

  test('bad filters and paging are 422 naming the query parameter', async () => {
    const status = await expectProblem(await h.request('GET', '/api/v1/leads?status=open', { key: ws.key }), 422, ['query.status'])
    expect(status.errors[0].message).toContain('new, converted')
    await expectProblem(await h.request('GET', '/api/v1/leads?created_since=yesterday', { key: ws.key }), 422, ['query.created_since'])
    await expectProblem(await h.request('GET', '/api/v1/leads?limit=201', { key: ws.key }), 422, ['query.limit'])
  })

  test('never shows another workspace its leads', async () => {
    const other = await h.workspace()
    const page = await (await h.request('GET', '/api/v1/leads', { key: other.key })).json()
    expect(page.pagination.total).toBe(0)
    const byContact = await (await h.request('GET', `/api/v1/leads?contact_id=${janeContact}`, { key: other.key })).json()
    expect(byContact.data).toEqual([])
  })
})

describe('GET /leads/:id', async () => {
  const ws = await h.workspace()

  test('returns the lead with every field it arrived with', async () => {
    const lead = await h.pushLead(ws.key, {
      email: ' Jane@Example.com ',
      first_name: 'Jane',
      phone: '+1 (234) 567-890',
      source: 'zapier',
      utm_source: 'news',
      metadata: { plan: 'pro' },
    })
    const res = await h.request('GET', `/api/v1/leads/${lead.id}`, { key: ws.key })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      id: lead.id,
      object: 'lead',
      contact_id: lead.contact_id,
      channel: 'inbound',
      source: 'zapier',
      email: 'jane@example.com',
      phone: '+1234567890',
      first_name: 'Jane',
      last_name: null,
      metadata: { utm_source: 'news', plan: 'pro' },
      context: null,
      status: 'new',
      deal_id: null,
      converted_at: null,
      created_at: new Date(h.clock.now()).toISOString(),
    })
  })

  test('an unknown id is 404', async () => {
    await expectProblem(await h.request('GET', `/api/v1/leads/${crypto.randomUUID()}`, { key: ws.key }), 404)
    await expectProblem(await h.request('GET', '/api/v1/leads/not-a-uuid', { key: ws.key }), 404)
  })
})

describe('POST /leads/:id/convert', async () => {
  const ws = await h.workspace()

  test('first conversion creates the deal (201), marks the lead, and links both', async () => {
    const lead = await h.pushLead(ws.key, { email: 'sam@example.com', first_name: 'Sam', last_name: 'Lee' })
    const res = await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key })
    expect(res.status).toBe(201)
    const body = await res.json()
    expect(res.headers.get('location')).toBe(`/api/v1/deals/${body.deal.id}`)
    expect(body.deal).toMatchObject({
      object: 'deal',
      title: 'Sam Lee',
      value: 0,
      currency: 'USD',
      stage: 'new',
      contact_id: lead.contact_id,
      lead_id: lead.id,
      closed_at: null,
    })
    expect(body.lead).toMatchObject({ id: lead.id, status: 'converted', deal_id: body.deal.id, converted_at: expect.any(String) })

    const stored = await (await h.request('GET', `/api/v1/leads/${lead.id}`, { key: ws.key })).json()
    expect(stored).toEqual(body.lead)
    const deal = await (await h.request('GET', `/api/v1/deals/${body.deal.id}`, { key: ws.key })).json()
    expect(deal).toEqual(body.deal)
  })

  test('converting again answers 200 with the same deal and ignores the new body', async () => {
    const lead = await h.pushLead(ws.key, { phone: '+44 20 7946 0000' })
    const first = await (await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key, body: { title: 'Phone deal', value: 250.5 } })).json()
    expect(first.deal).toMatchObject({ title: 'Phone deal', value: 250.5 })
    const again = await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key, body: { title: 'Other', value: 1 } })
    expect(again.status).toBe(200)
    expect(again.headers.get('location')).toBeNull()
    expect(await again.json()).toEqual(first)
    const deals = await (await h.request('GET', `/api/v1/deals?contact_id=${lead.contact_id}`, { key: ws.key })).json()
    expect(deals.pagination.total).toBe(1)
  })

  test('takes the deal fields with exact money; the default title falls back to email', async () => {
    const lead = await h.pushLead(ws.key, { email: 'kim@example.com' })
    const res = await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key, body: { value: '1234567.89', currency: 'EUR', stage: 'qualified' } })
    expect(res.status).toBe(201)
    expect((await res.json()).deal).toMatchObject({ title: 'kim@example.com', value: 1234567.89, currency: 'EUR', stage: 'qualified' })
  })

  test('invalid deal fields are 422 with their path, and the lead stays new', async () => {
    const lead = await h.pushLead(ws.key, { email: 'val@example.com' })
    const cases: [Record<string, unknown>, string][] = [
      [{ value: 10.999 }, '/value'],
      [{ value: -5 }, '/value'],
      [{ value: 'ten' }, '/value'],
      [{ currency: 'usd' }, '/currency'],
      [{ stage: 'closed' }, '/stage'],
      [{ title: '' }, '/title'],
      [{ deal_value: 5 }, '/deal_value'],
    ]
    for (const [body, path] of cases) {
      await expectProblem(await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key, body }), 422, [path])
    }
    const stage = await (await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key, body: { stage: 'closed' } })).json()
    expect(stage.detail).toContain('new, qualified, proposal, negotiation, won, lost')
    const stored = await (await h.request('GET', `/api/v1/leads/${lead.id}`, { key: ws.key })).json()
    expect(stored.status).toBe('new')
  })

  test('malformed JSON is 400 and a non-JSON body is 415', async () => {
    const lead = await h.pushLead(ws.key, { email: 'raw@example.com' })
    const path = `/api/v1/leads/${lead.id}/convert`
    await expectProblem(await h.request('POST', path, { key: ws.key, rawBody: '{"title":', headers: { 'content-type': 'application/json' } }), 400)
    await expectProblem(await h.request('POST', path, { key: ws.key, rawBody: 'title=x', headers: { 'content-type': 'text/plain' } }), 415)
  })
})

describe('auth, scopes and other workspaces', async () => {
  const ws = await h.workspace()
  const other = await h.workspace()
  let leadId = ''

  beforeAll(async () => {
    leadId = (await h.pushLead(ws.key, { email: 'owner@example.com' })).id
  })

  test('no key is 401 on every route', async () => {
    await expectProblem(await h.request('GET', '/api/v1/leads'), 401)
    await expectProblem(await h.request('GET', `/api/v1/leads/${leadId}`), 401)
    await expectProblem(await h.request('POST', `/api/v1/leads/${leadId}/convert`), 401)
  })

  test('a key without the scope is 403', async () => {
    const writeOnly = (await h.key(ws.id, { scopes: ['leads:write'] })).key
    const readOnly = (await h.key(ws.id, { scopes: ['leads:read'] })).key
    await expectProblem(await h.request('GET', '/api/v1/leads', { key: writeOnly }), 403)
    await expectProblem(await h.request('GET', `/api/v1/leads/${leadId}`, { key: writeOnly }), 403)
    await expectProblem(await h.request('POST', `/api/v1/leads/${leadId}/convert`, { key: readOnly }), 403)
    expect((await h.request('GET', '/api/v1/leads', { key: readOnly })).status).toBe(200)
  })

  test("another workspace's lead is 404, and converting it changes nothing", async () => {
    await expectProblem(await h.request('GET', `/api/v1/leads/${leadId}`, { key: other.key }), 404)
    await expectProblem(await h.request('POST', `/api/v1/leads/${leadId}/convert`, { key: other.key }), 404)
    const stored = await (await h.request('GET', `/api/v1/leads/${leadId}`, { key: ws.key })).json()
    expect(stored.status).toBe('new')
  })
})
