/** POST /api/v1/leads/inbound: the seed document's example, and every way a request can be bad. */
import { afterAll, describe, expect, test } from 'bun:test'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

/** The seed document's request body, verbatim. */
const SEED_BODY = `{
"email": "jane@example.com",
"first_name": "Jane",
"last_name": "Smith",
"phone": "+1234567890",
"source": "hubspot",
"metadata": { "deal_value": 5000 }
}`

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

async function counts() {
  return { leads: await h.rows.count('leads'), contacts: await h.rows.count('contacts'), events: await h.rows.count('events') }
}

describe('success', () => {
  test("the seed document's curl example returns 201 {id, status: 'created'}", async () => {
    const ws = await h.workspace()
    const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, rawBody: SEED_BODY, headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(201)
    const body = await res.json()
    expect(body.id).toMatch(UUID)
    expect(body.status).toBe('created')
    expect(body.contact_id).toMatch(UUID)
    expect(res.headers.get('location')).toBe(`/api/v1/leads/${body.id}`)
    expect(res.headers.get('x-request-id')).toBeTruthy()

    const lead = (await h.rows.find('leads', { id: body.id }))!
    expect(lead).toMatchObject({ email: 'jane@example.com', phone: '+1234567890', firstName: 'Jane', lastName: 'Smith', source: 'hubspot', channel: 'inbound' })
    expect(lead.metadata).toEqual({ deal_value: 5000 })
    const event = (await h.rows.all('events')).find((e) => JSON.parse(e.payload).data.lead.id === body.id)!
    expect(event.type).toBe('lead.created')
  })

  test('unknown top-level fields are kept in metadata; explicit metadata wins', async () => {
    const ws = await h.workspace()
    const res = await h.request('POST', '/api/v1/leads/inbound', {
      key: ws.key,
      body: { email: 'x@example.com', company: 'Acme', plan: 'pro', metadata: { plan: 'enterprise' } },
    })
    const { id } = await res.json()
    const lead = (await h.rows.find('leads', { id }))!
    expect(lead.metadata).toEqual({ company: 'Acme', plan: 'enterprise' })
  })

  test('phone alone is enough; source defaults to api; content type parameters are accepted', async () => {
    const ws = await h.workspace()
    const res = await h.request('POST', '/api/v1/leads/inbound', {
      key: ws.key,
      body: { phone: '+44 (20) 7946-0000' },
      headers: { 'content-type': 'application/json; charset=utf-8' },
    })
    expect(res.status).toBe(201)
    const { id } = await res.json()
    const lead = (await h.rows.find('leads', { id }))!
    expect(lead.phone).toBe('+442079460000')
    expect(lead.source).toBe('api')
  })

  test('empty strings and nulls count as absent (what Zapier sends for empty fields)', async () => {
    const ws = await h.workspace()
    const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: '', phone: '555-0100', first_name: null } })
    expect(res.status).toBe(201)
  })
})

describe('bad input is a clear problem, never a 500, and stores nothing', async () => {
  const ws = await h.workspace()

  async function rejected(init: Parameters<typeof h.request>[2], status: number) {
    const before = await counts()
    const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, ...init })
    expect(res.status).toBe(status)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await counts()).toEqual(before)
    return res.json()
  }

  test('400 for malformed JSON', async () => {
    const body = await rejected({ rawBody: '{"email": "a@b.co",', headers: { 'content-type': 'application/json' } }, 400)
    expect(body.title).toBe('Malformed JSON')
    expect(body.detail).toMatch(/not valid JSON/)
  })

  test('415 for a wrong or missing content type', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const body = await rejected({ rawBody: 'email=a@b.co', headers: { 'content-type': type } }, 415)
      expect(body.detail).toContain(type)
    }
    await rejected({ rawBody: '{"email":"a@b.co"}' }, 415)
  })

  test('413 over 1 MiB, with or without Content-Length', async () => {
    const big = JSON.stringify({ email: 'a@b.co', metadata: { blob: 'x'.repeat(1024 * 1024) } })
    const body = await rejected({ rawBody: big, headers: { 'content-type': 'application/json' } }, 413)
    expect(body.detail).toMatch(/1 MiB/)
    const stream = new Blob([big]).stream()
    const res = await h.app.handle(
      new Request('http://localhost/api/v1/leads/inbound', {
        method: 'POST',
        headers: { authorization: `Bearer ${ws.key}`, 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit),
    )
    expect(res.status).toBe(413)
  })

  test('exactly 1 MiB is accepted', async () => {
    // Metadata is capped at 32 KB, so whitespace makes up the size the body limit is measured on.
    const base = JSON.stringify({ email: 'big@example.com', metadata: { blob: 'x'.repeat(30 * 1024) } })
    const body = base + ' '.repeat(1024 * 1024 - base.length)
    expect(body.length).toBe(1024 * 1024)
    const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, rawBody: body, headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(201)
  })

  test('422 lists the failing path for schema errors', async () => {
    let body = await rejected({ body: { email: 42, first_name: ['x'] } }, 422)
    expect(body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/email', '/first_name'])
    body = await rejected({ body: { email: 'not-an-email' } }, 422)
    expect(body.errors).toEqual([{ path: '/email', message: expect.stringContaining('not an email') }])
    body = await rejected({ body: { first_name: 'Nobody' } }, 422)
    expect(body.errors[0].path).toBe('/email')
    expect(body.errors[0].message).toMatch(/email or phone/)
    body = await rejected({ body: { email: 'a@b.co', metadata: 'nope' } }, 422)
    expect(body.errors[0].path).toBe('/metadata')
    body = await rejected({ body: { email: 'a@b.co', source: '' } }, 422)
    expect(body.errors[0].path).toBe('/source')
    body = await rejected({ body: [1, 2] }, 422)
    body = await rejected({ body: 'just a string' }, 422)
    body = await rejected({ body: { phone: 'call me' } }, 422)
    expect(body.errors[0].path).toBe('/phone')
  })

  test('422 for an empty body', async () => {
    await rejected({ rawBody: '', headers: { 'content-type': 'application/json' } }, 422)
  })

  test('404 problem for an unknown route, 404 for a wrong method on a known path', async () => {
    const res = await h.request('POST', '/api/v1/nothing-here', { key: ws.key, body: {} })
    expect(res.status).toBe(404)
    expect((await res.json()).detail).toMatch(/No route/)
  })
})
