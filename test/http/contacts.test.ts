/** GET /api/v1/contacts and contact dedupe/merge rules. */
import { afterAll, describe, expect, test } from 'bun:test'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

async function list(key: string, query = '') {
  const res = await h.request('GET', `/api/v1/contacts${query}`, { key })
  return { res, body: res.status === 200 ? await res.json() : await res.json() }
}

describe('dedupe and merge', () => {
  test('same email after trim and lower-case is the same contact; merge rules apply', async () => {
    const ws = await h.workspace()
    const first = await h.pushLead(ws.key, { email: 'Jane@Example.com ', first_name: 'Jane', source: 'hubspot', metadata: { plan: 'free', team: 'a' } })
    h.clock.advance(60_000)
    const second = await h.pushLead(ws.key, {
      email: 'jane@example.com',
      first_name: 'Janet',
      last_name: 'Smith',
      phone: '+1 234 567 890',
      source: 'typeform',
      metadata: { plan: 'pro' },
    })
    expect(second.contact_id).toBe(first.contact_id)

    const { body } = await list(ws.key)
    expect(body.data).toHaveLength(1)
    const c = body.data[0]
    expect(c).toMatchObject({
      id: first.contact_id,
      email: 'jane@example.com',
      first_name: 'Jane', // not overwritten: only empty fields are filled
      last_name: 'Smith', // was empty: filled
      phone: '+1234567890',
      first_source: 'hubspot', // stays
      last_source: 'typeform', // bumped
      lead_count: 2,
      metadata: { plan: 'pro', team: 'a' }, // merged, newer wins per key
    })
    expect(Date.parse(c.updated_at) - Date.parse(c.created_at)).toBe(60_000)
  })

  test('without email, the phone (normalised) finds the contact', async () => {
    const ws = await h.workspace()
    const a = await h.pushLead(ws.key, { phone: '+1 (555) 010-0000', first_name: 'Sam' })
    const b = await h.pushLead(ws.key, { phone: '+15550100000', last_name: 'Lee' })
    expect(b.contact_id).toBe(a.contact_id)
  })

  test('a phone-only contact gains its email when the phone comes back with one', async () => {
    const ws = await h.workspace()
    const a = await h.pushLead(ws.key, { phone: '555-0101' })
    const b = await h.pushLead(ws.key, { phone: '5550101', email: 'sam@example.com' })
    expect(b.contact_id).toBe(a.contact_id)
    const { body } = await list(ws.key, '?email=SAM@example.com')
    expect(body.data[0]).toMatchObject({ id: a.contact_id, email: 'sam@example.com', lead_count: 2 })
  })

  test('different emails are different people even with the same phone', async () => {
    const ws = await h.workspace()
    const a = await h.pushLead(ws.key, { email: 'one@example.com', phone: '555-0102' })
    const b = await h.pushLead(ws.key, { email: 'two@example.com', phone: '555-0102' })
    expect(b.contact_id).not.toBe(a.contact_id)
  })
})

describe('listing and pagination', async () => {
  const ws = await h.workspace()
  const emails = Array.from({ length: 7 }, (_, i) => `p${i}@example.com`)

  test('setup: 7 contacts from two sources', async () => {
    for (const [i, email] of emails.entries()) {
      await h.pushLead(ws.key, { email, source: i % 2 ? 'odd' : 'even' })
      h.clock.advance(1000)
    }
  })

  test('newest first, with the envelope and default limit 50', async () => {
    const { res, body } = await list(ws.key)
    expect(res.status).toBe(200)
    expect(body.data.map((c: { email: string }) => c.email)).toEqual([...emails].reverse())
    expect(body.pagination).toEqual({ page: 1, limit: 50, total: 7, has_more: false, next_cursor: null })
    expect(res.headers.get('link')).toBe('</api/v1/contacts?page=1>; rel="first", </api/v1/contacts?page=1>; rel="last"')
  })

  test('pages split exactly, with next/prev links', async () => {
    const p1 = await list(ws.key, '?page=1&limit=3')
    const p2 = await list(ws.key, '?page=2&limit=3')
    const p3 = await list(ws.key, '?page=3&limit=3')
    const seen = [...p1.body.data, ...p2.body.data, ...p3.body.data].map((c: { email: string }) => c.email)
    expect(seen).toEqual([...emails].reverse())
    expect(p1.body.pagination).toMatchObject({ page: 1, limit: 3, total: 7, has_more: true })
    expect(p3.body.pagination).toMatchObject({ page: 3, has_more: false })
    expect(p3.body.data).toHaveLength(1)
    const link = p2.res.headers.get('link')!
    expect(link).toContain('</api/v1/contacts?page=3&limit=3>; rel="next"')
    expect(link).toContain('</api/v1/contacts?page=1&limit=3>; rel="prev"')
    expect(link).toContain('</api/v1/contacts?page=3&limit=3>; rel="last"')
    expect(p3.res.headers.get('link')).not.toContain('rel="next"')
  })

  test('a page past the end is empty, not an error', async () => {
    const { res, body } = await list(ws.key, '?page=99&limit=3')
    expect(res.status).toBe(200)
    expect(body.data).toEqual([])
    expect(body.pagination).toMatchObject({ page: 99, total: 7, has_more: false })
    expect(res.headers.get('link')).toContain('rel="prev"')
  })

  test('limit 1 and 200 are the edges; 0, 201, non-numeric and fractional are 422 with the path', async () => {
    expect((await list(ws.key, '?limit=1')).body.data).toHaveLength(1)
    expect((await list(ws.key, '?limit=200')).res.status).toBe(200)
    for (const [query, path] of [
      ['?limit=0', 'query.limit'],
      ['?limit=201', 'query.limit'],
      ['?page=abc', 'query.page'],
      ['?page=0', 'query.page'],
      ['?page=1.5', 'query.page'],
      ['?page=-1', 'query.page'],
      ['?page=', 'query.page'],
      ['?limit=1e2', 'query.limit'],
      ['?updated_since=yesterday', 'query.updated_since'],
      ['?after=garbage', 'query.after'],
    ]) {
      const { res, body } = await list(ws.key, query)
      expect(res.status, query).toBe(422)
      expect(body.errors[0].path, query).toBe(path)
    }
  })

  test('filter by source (the first source) keeps the pagination exact', async () => {
    const { body } = await list(ws.key, '?source=odd&limit=2')
    expect(body.data.map((c: { email: string }) => c.email)).toEqual(['p5@example.com', 'p3@example.com'])
    expect(body.pagination).toMatchObject({ total: 3, has_more: true })
    const last = await list(ws.key, '?source=odd&limit=2&page=2')
    expect(last.body.data.map((c: { email: string }) => c.email)).toEqual(['p1@example.com'])
    expect((await list(ws.key, '?source=nowhere')).body.pagination.total).toBe(0)
  })

  test('filter by updated_since', async () => {
    const all = (await list(ws.key)).body.data
    const since = all[2].updated_at
    const { body } = await list(ws.key, `?updated_since=${encodeURIComponent(since)}`)
    expect(body.data.map((c: { id: string }) => c.id)).toEqual(all.slice(0, 3).map((c: { id: string }) => c.id))
    expect(body.pagination.total).toBe(3)
  })

  test('the after cursor walks everything once', async () => {
    const seen: string[] = []
    let query = '?limit=3'
    for (;;) {
      const { body } = await list(ws.key, query)
      seen.push(...body.data.map((c: { email: string }) => c.email))
      expect(body.pagination.page).toBe(query.includes('after') ? null : 1)
      if (!body.pagination.next_cursor) break
      query = `?limit=3&after=${body.pagination.next_cursor}`
    }
    expect(seen).toEqual([...emails].reverse())
  })
})
