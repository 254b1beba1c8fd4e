/** One contact: read it with its recent leads and deals, edit it. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHarness, expectProblem } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

describe('GET /contacts/:id', async () => {
  const ws = await h.workspace()

  test('returns the contact with its 5 newest leads and deals', async () => {
    const leadIds: string[] = []
    let contactId = ''
    for (let i = 0; i < 7; i++) {
      const lead = await h.pushLead(ws.key, { email: 'ann@example.com', first_name: 'Ann', source: `s${i}` })
      leadIds.push(lead.id)
      contactId = lead.contact_id
      h.clock.advance(1000)
    }
    const converted = await (await h.request('POST', `/api/v1/leads/${leadIds[6]}/convert`, { key: ws.key, body: { value: 99.95 } })).json()
    const dealIds = [converted.deal.id]
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1000)
      const res = await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: `Deal ${i}`, contact_id: contactId } })
      dealIds.push((await res.json()).id)
    }
    await h.pushLead(ws.key, { email: 'someone-else@example.com' })

    const res = await h.request('GET', `/api/v1/contacts/${contactId}`, { key: ws.key })
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body).toMatchObject({
      id: contactId,
      object: 'contact',
      email: 'ann@example.com',
      first_name: 'Ann',
      lead_count: 7,
      first_source: 's0',
      last_source: 's6',
    })
    expect(body.recent_leads.map((l: { id: string }) => l.id)).toEqual(leadIds.slice(2).reverse())
    expect(body.recent_leads[0]).toEqual({
      id: leadIds[6],
      object: 'lead',
      channel: 'inbound',
      source: 's6',
      status: 'converted',
      deal_id: converted.deal.id,
      created_at: expect.any(String),
    })
    expect(body.recent_deals.map((d: { id: string }) => d.id)).toEqual(dealIds.slice(1).reverse())
  })

  test('a contact without deals has empty lists, not missing ones', async () => {
    const lead = await h.pushLead(ws.key, { phone: '+15550001111' })
    const body = await (await h.request('GET', `/api/v1/contacts/${lead.contact_id}`, { key: ws.key })).json()
    expect(body.recent_deals).toEqual([])
    expect(body.recent_leads).toHaveLength(1)
  })

  test('an unknown id is 404', async () => {
    await expectProblem(await h.request('GET', `/api/v1/contacts/${crypto.randomUUID()}`, { key: ws.key }), 404)
  })
})

describe('PATCH /contacts/:id', async () => {
  const ws = await h.workspace()
  let contactId = ''
  let otherContactId = ''

  beforeAll(async () => {
    contactId = (await h.pushLead(ws.key, { email: 'bo@example.com', first_name: 'Bo', metadata: { plan: 'free', team: 'red', region: 'eu' } })).contact_id
    otherContactId = (await h.pushLead(ws.key, { email: 'taken@example.com' })).contact_id
  })

  test('changes only the fields sent, normalises email and phone, bumps updated_at', async () => {
    const before = await (await h.request('GET', `/api/v1/contacts/${contactId}`, { key: ws.key })).json()
    h.clock.advance(60_000)
    const res = await h.request('PATCH', `/api/v1/contacts/${contactId}`, {
      key: ws.key,
      body: { last_name: 'Diaz', email: '  Bo.Diaz@Example.COM ', phone: '+1 (555) 123-4567' },
    })
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body).toMatchObject({ first_name: 'Bo', last_name: 'Diaz', email: 'bo.diaz@example.com', phone: '+15551234567', lead_count: 1 })
    expect(body.created_at).toBe(before.created_at)
    expect(body.updated_at).toBe(new Date(h.clock.now()).toISOString())
    const { recent_leads, recent_deals, ...stored } = await (await h.request('GET', `/api/v1/contacts/${contactId}`, { key: ws.key })).json()
    expect(stored).toEqual(body)
  })

  test('metadata merges; a null value removes its key', async () => {
    const res = await h.request('PATCH', `/api/v1/contacts/${contactId}`, { key: ws.key, body: { metadata: { plan: 'pro', team: null, score: { a: 1 } } } })
    expect((await res.json()).metadata).toEqual({ plan: 'pro', region: 'eu', score: { a: 1 } })
  })

  test('null or empty clears a name', async () => {
    const res = await h.request('PATCH', `/api/v1/contacts/${contactId}`, { key: ws.key, body: { first_name: null, last_name: '  ' } })
    expect(await res.json()).toMatchObject({ first_name: null, last_name: null })
  })

  test('the new email is what leads now match', async () => {
    const lead = await h.pushLead(ws.key, { email: 'BO.DIAZ@example.com' })
    expect(lead.contact_id).toBe(contactId)
  })

  test("another contact's email is 409 (after normalising) and changes nothing", async () => {
    const body = await expectProblem(
      await h.request('PATCH', `/api/v1/contacts/${contactId}`, { key: ws.key, body: { email: 'Taken@Example.com', first_name: 'X' } }),
      409,
      ['/email'],
    )
    expect(body.detail).toContain('taken@example.com')
    const stored = await (await h.request('GET', `/api/v1/contacts/${contactId}`, { key: ws.key })).json()
    expect(stored).toMatchObject({ email: 'bo.diaz@example.com', first_name: null })
  })

  test('setting the email it already has is fine', async () => {
    expect((await h.request('PATCH', `/api/v1/contacts/${otherContactId}`, { key: ws.key, body: { email: 'taken@example.com' } })).status).toBe(200)
  })

  test('the same email in another workspace is no conflict', async () => {
    const other = await h.workspace()
    const theirs = (await h.pushLead(other.key, { email: 'mine@example.com' })).contact_id
    const res = await h.request('PATCH', `/api/v1/contacts/${theirs}`, { key: other.key, body: { email: 'bo.diaz@example.com' } })
    expect(res.status).toBe(200)
  })

  test('validation failures are 422 with their path', async () => {
    const path = `/api/v1/contacts/${contactId}`
    await expectProblem(await h.request('PATCH', path, { key: ws.key, body: { email: 'not-an-email' } }), 422, ['/email'])
    await expectProblem(await h.request('PATCH', path, { key: ws.key, body: { phone: '12' } }), 422, ['/phone'])
    await expectProblem(await h.request('PATCH', path, { key: ws.key, body: { first_name: 42 } }), 422, ['/first_name'])
    await expectProblem(await h.request('PATCH', path, { key: ws.key, body: { metadata: 'x' } }), 422, ['/metadata'])
    await expectProblem(await h.request('PATCH', path, { key: ws.key, body: { lead_count: 9 } }), 422, ['/lead_count'])
  })

  test('a contact keeps an email or a phone', async () => {
    const path = `/api/v1/contacts/${contactId}`
    expect((await h.request('PATCH', path, { key: ws.key, body: { phone: null } })).status).toBe(200)
    await expectProblem(await h.request('PATCH', path, { key: ws.key, body: { email: null } }), 422, ['/email'])
    const swapped = await h.request('PATCH', path, { key: ws.key, body: { email: null, phone: '+15559990000' } })
    expect(await swapped.json()).toMatchObject({ email: null, phone: '+15559990000' })
  })
})

describe('auth, scopes and other workspaces', async () => {
  const ws = await h.workspace()
  const other = await h.workspace()
  let contactId = ''

  beforeAll(async () => {
    contactId = (await h.pushLead(ws.key, { email: 'private@example.com', first_name: 'Priv' })).contact_id
  })

  test('no key is 401', async () => {
    await expectProblem(await h.request('GET', `/api/v1/contacts/${contactId}`), 401)
    await expectProblem(await h.request('PATCH', `/api/v1/contacts/${contactId}`, { body: { first_name: 'X' } }), 401)
  })

  test('a key without the scope is 403', async () => {
    const readOnly = (await h.key(ws.id, { scopes: ['contacts:read'] })).key
    const writeOnly = (await h.key(ws.id, { scopes: ['contacts:write'] })).key
    await expectProblem(await h.request('GET', `/api/v1/contacts/${contactId}`, { key: writeOnly }), 403)
    await expectProblem(await h.request('PATCH', `/api/v1/contacts/${contactId}`, { key: readOnly, body: { first_name: 'X' } }), 403)
    expect((await h.request('PATCH', `/api/v1/contacts/${contactId}`, { key: writeOnly, body: { first_name: 'Priv' } })).status).toBe(200)
  })

  test("another workspace's contact is 404 and stays untouched", async () => {
    await expectProblem(await h.request('GET', `/api/v1/contacts/${contactId}`, { key: other.key }), 404)
    await expectProblem(await h.request('PATCH', `/api/v1/contacts/${contactId}`, { key: other.key, body: { first_name: 'Hacked' } }), 404)
    const stored = await (await h.request('GET', `/api/v1/contacts/${contactId}`, { key: ws.key })).json()
    expect(stored.first_name).toBe('Priv')
  })
})
