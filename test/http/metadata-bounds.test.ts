/** Metadata is bounded: a lead's own (32 KB, 100 keys), a contact's merged (64 KB, newest keys kept), a deal's (32 KB, 100 keys). */
import { afterAll, describe, expect, test } from 'bun:test'
import { CONTACT_METADATA_MAX_BYTES, METADATA_MAX_BYTES, METADATA_MAX_KEYS } from '../../src/lib/metadata'
import { createHarness, expectProblem } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())
const ws = await h.workspace()
const KB = 1024
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value))

describe('a lead', () => {
  test('metadata over 32 KB serialized is 422 at /metadata naming the limit', async () => {
    const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'big@example.com', metadata: { blob: 'x'.repeat(33 * KB) } } })
    const problem = await expectProblem(res, 422, ['/metadata'])
    expect(problem.detail).toContain(String(METADATA_MAX_BYTES))
  })

  test('more than 100 keys is 422 at /metadata naming the limit', async () => {
    const metadata = Object.fromEntries(Array.from({ length: METADATA_MAX_KEYS + 1 }, (_, i) => [`k${i}`, i]))
    const problem = await expectProblem(await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'keys@example.com', metadata } }), 422, [
      '/metadata',
    ])
    expect(problem.detail).toContain(String(METADATA_MAX_KEYS))
  })

  test('unknown top-level fields count towards the bound, since they are kept in metadata', async () => {
    const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'top@example.com', notes: 'x'.repeat(33 * KB) } })
    await expectProblem(res, 422, ['/metadata'])
  })

  test('capture: unknown form fields are metadata and bounded the same way', async () => {
    const pk = (await h.key(ws.id, { kind: 'publishable', allowedOrigins: ['https://shop.example'] })).key
    const res = await h.request('POST', '/api/v1/leads/capture', {
      key: pk,
      rawBody: new URLSearchParams({ email: 'form@example.com', message: 'x'.repeat(33 * KB) }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    await expectProblem(res, 422, ['/metadata'])
  })

  test('just under the bound is accepted and kept verbatim', async () => {
    const metadata = { blob: 'x'.repeat(30 * KB) }
    const { id } = await h.pushLead(ws.key, { email: 'fits@example.com', metadata })
    expect((await h.rows.find('leads', { id }))!.metadata).toEqual(metadata)
  })
})

describe("a contact's merged metadata", () => {
  test('30 leads of 30 KB each for one email: every lead is kept, the contact keeps the newest keys within 64 KB and logs what it dropped', async () => {
    let contactId = ''
    for (let i = 0; i < 30; i++)
      contactId = (await h.pushLead(ws.key, { email: 'grow@example.com', metadata: { [`field_${i}`]: 'x'.repeat(30 * KB), i } })).contact_id
    const contact = (await h.rows.find('contacts', { id: contactId }))!
    expect(contact.leadCount).toBe(30)
    expect(bytes(contact.metadata)).toBeLessThanOrEqual(CONTACT_METADATA_MAX_BYTES)
    expect(Object.keys(contact.metadata).sort()).toEqual(['field_28', 'field_29', 'i'])
    expect(contact.metadata.i).toBe(29)
    expect(await h.rows.count('leads', { contactId })).toBe(30)
    expect(h.logs.some((line) => line.includes('contact.metadata_trimmed') && line.includes('field_0'))).toBe(true)
  })

  test('PATCH /contacts/:id past 64 KB is 422 at /metadata naming the limit; removing keys with null still works', async () => {
    const { contact_id } = await h.pushLead(ws.key, { email: 'patch@example.com', metadata: { a: 'x'.repeat(30 * KB) } })
    const path = `/api/v1/contacts/${contact_id}`
    expect((await h.request('PATCH', path, { key: ws.key, body: { metadata: { b: 'y'.repeat(30 * KB) } } })).status).toBe(200)
    const problem = await expectProblem(await h.request('PATCH', path, { key: ws.key, body: { metadata: { c: 'z'.repeat(10 * KB) } } }), 422, ['/metadata'])
    expect(problem.detail).toContain(String(CONTACT_METADATA_MAX_BYTES))
    expect((await h.request('PATCH', path, { key: ws.key, body: { metadata: { a: null, c: 'z'.repeat(10 * KB) } } })).status).toBe(200)
  })
})

describe('a deal', () => {
  test('POST /deals and PATCH /deals/:id bound metadata like a lead', async () => {
    const big = { blob: 'x'.repeat(33 * KB) }
    await expectProblem(await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'Big', metadata: big } }), 422, ['/metadata'])
    const res = await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'Small', metadata: { a: 'x'.repeat(20 * KB) } } })
    expect(res.status).toBe(201)
    const { id } = await res.json()
    await expectProblem(await h.request('PATCH', `/api/v1/deals/${id}`, { key: ws.key, body: { metadata: { b: 'x'.repeat(20 * KB) } } }), 422, ['/metadata'])
  })
})

describe('list responses', () => {
  test('every contact on a page is bounded, so a page of 200 is at most 200 × the contact cap', async () => {
    const res = await h.request('GET', '/api/v1/contacts?limit=200', { key: ws.key })
    expect(res.status).toBe(200)
    const { data } = await res.json()
    expect(data.length).toBeGreaterThan(0)
    for (const contact of data) expect(bytes(contact)).toBeLessThan(CONTACT_METADATA_MAX_BYTES + 2 * KB)
  })
})
