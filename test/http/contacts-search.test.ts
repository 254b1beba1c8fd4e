/** GET /api/v1/contacts?q=: what a search matches, newest first, paginated; on both engines. */
import { afterAll, describe, expect, test } from 'bun:test'
import { SEARCH_COUNT_LIMIT } from '../../src/modules/contacts/search'
import { bulkContacts } from '../bulk-contacts'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

async function search(key: string, query: string) {
  const res = await h.request('GET', `/api/v1/contacts?${query}`, { key })
  return { res, body: await res.json() }
}

const emailsOf = (body: { data: { email: string }[] }) => body.data.map((c) => c.email)

describe('what a query matches', async () => {
  const ws = await h.workspace()
  const other = await h.workspace()

  test('setup: six people (oldest first), and one in another workspace', async () => {
    const people = [
      { email: 'jane@example.com', first_name: 'Jane', last_name: 'Smith', phone: '+1 555 0100', source: 'hubspot' },
      { email: 'john@acme.io', first_name: 'John', last_name: 'Smithers', phone: '555-0199' },
      { email: 'mary@example.org', first_name: 'Mary Ann', last_name: 'Lee' },
      { email: 'zola@example.fr', first_name: 'Émile', last_name: 'Zola' },
      { phone: '+44 20 7946 0000', last_name: "O'Brien" },
      { email: 'smithy@example.net', first_name: 'Bob' },
    ]
    for (const person of people) {
      await h.pushLead(ws.key, person)
      h.clock.advance(1000)
    }
    await h.pushLead(other.key, { email: 'jane@other.example', first_name: 'Jane', last_name: 'Smith' })
  })

  test('a prefix of the first name, any case', async () => {
    for (const q of ['ja', 'JA', 'Jane', ' jane ']) expect(emailsOf((await search(ws.key, `q=${encodeURIComponent(q)}`)).body), q).toEqual(['jane@example.com'])
  })

  test('a prefix of the last name, or of the email; newest first', async () => {
    const { body } = await search(ws.key, 'q=smith')
    expect(emailsOf(body)).toEqual(['smithy@example.net', 'john@acme.io', 'jane@example.com'])
    expect(body.pagination).toMatchObject({ page: 1, total: 3, has_more: false })
  })

  test('a prefix of the full name, white space collapsed', async () => {
    expect(emailsOf((await search(ws.key, `q=${encodeURIComponent('jane  sm')}`)).body)).toEqual(['jane@example.com'])
    expect(emailsOf((await search(ws.key, `q=${encodeURIComponent('mary ann l')}`)).body)).toEqual(['mary@example.org'])
    expect(emailsOf((await search(ws.key, `q=${encodeURIComponent('jane x')}`)).body)).toEqual([])
  })

  test('an exact email, any case, and an email prefix', async () => {
    expect(emailsOf((await search(ws.key, 'q=JOHN@ACME.IO')).body)).toEqual(['john@acme.io'])
    expect(emailsOf((await search(ws.key, 'q=john%40')).body)).toEqual(['john@acme.io'])
  })

  test("a phone by its digits' prefix, whatever the punctuation, with or without +", async () => {
    expect(emailsOf((await search(ws.key, `q=${encodeURIComponent('+1 555')}`)).body)).toEqual(['jane@example.com'])
    expect(emailsOf((await search(ws.key, `q=${encodeURIComponent('(555) 01')}`)).body)).toEqual(['john@acme.io'])
    const uk = await search(ws.key, `q=${encodeURIComponent('44 20')}`)
    expect(uk.body.data.map((c: { last_name: string }) => c.last_name)).toEqual(["O'Brien"])
  })

  test('non-ASCII names match as stored; an apostrophe is plain text', async () => {
    expect(emailsOf((await search(ws.key, `q=${encodeURIComponent('Émile')}`)).body)).toEqual(['zola@example.fr'])
    expect((await search(ws.key, `q=${encodeURIComponent("o'b")}`)).body.data).toHaveLength(1)
  })

  test('only prefixes: the middle of a word does not match', async () => {
    for (const q of ['mith', 'example', 'ohn']) expect((await search(ws.key, `q=${q}`)).body.pagination.total, q).toBe(0)
  })

  test('never another workspace', async () => {
    const { body } = await search(other.key, 'q=smith')
    expect(emailsOf(body)).toEqual(['jane@other.example'])
  })

  test('combines with the other filters', async () => {
    expect(emailsOf((await search(ws.key, 'q=smith&source=hubspot')).body)).toEqual(['jane@example.com'])
    expect(emailsOf((await search(ws.key, 'q=smith&email=john@acme.io')).body)).toEqual(['john@acme.io'])
  })

  test('pages and the cursor cut the matches exactly', async () => {
    const p1 = await search(ws.key, 'q=smith&limit=2')
    expect(emailsOf(p1.body)).toEqual(['smithy@example.net', 'john@acme.io'])
    expect(p1.body.pagination).toMatchObject({ total: 3, has_more: true })
    expect(p1.res.headers.get('link')).toContain('</api/v1/contacts?q=smith&limit=2&page=2>; rel="next"')
    const p2 = await search(ws.key, 'q=smith&limit=2&page=2')
    expect(emailsOf(p2.body)).toEqual(['jane@example.com'])
    expect(p2.body.pagination.has_more).toBe(false)
    const next = await search(ws.key, `q=smith&limit=2&after=${p1.body.pagination.next_cursor}`)
    expect(emailsOf(next.body)).toEqual(['jane@example.com'])
    expect(next.body.pagination).toMatchObject({ page: null, total: 3, has_more: false, next_cursor: null })
  })

  test('a blank query lists everything; too long or control characters are 422', async () => {
    expect((await search(ws.key, 'q=%20')).body.pagination.total).toBe(6)
    const long = await search(ws.key, `q=${'a'.repeat(101)}`)
    expect(long.res.status).toBe(422)
    const control = await search(ws.key, 'q=a%01b')
    expect(control.res.status).toBe(422)
    expect(control.body.errors[0].path).toBe('query.q')
  })
})

describe('a prefix matching more than the count limit', async () => {
  const ws = await h.workspace()
  const matches = SEARCH_COUNT_LIMIT + 5

  test('setup: many "Alex" contacts stored in bulk, and one older "Bo"', async () => {
    await h.pushLead(ws.key, { email: 'bo@example.com', first_name: 'Bo' })
    await bulkContacts(
      h,
      ws.id,
      Array.from({ length: matches }, (_, i) => ({ email: `alex${i}@example.com`, firstName: 'Alex', lastName: `Number${i}` })),
    )
  })

  test('total is the limit, pages come newest first, and the cursor walks on past it', async () => {
    const first = await search(ws.key, 'q=al&limit=3')
    expect(first.body.pagination).toMatchObject({ total: SEARCH_COUNT_LIMIT, has_more: true })
    expect(emailsOf(first.body)).toEqual([`alex${matches - 1}@example.com`, `alex${matches - 2}@example.com`, `alex${matches - 3}@example.com`])
    const last = await search(ws.key, `q=al&limit=200&page=${SEARCH_COUNT_LIMIT / 200}`)
    expect(last.body.data).toHaveLength(200)
    expect(last.body.pagination.has_more).toBe(false)
    expect((await search(ws.key, `q=al&limit=200&page=${SEARCH_COUNT_LIMIT / 200 + 1}`)).body.data).toEqual([])
    const rest = await search(ws.key, `q=alex&limit=10&after=${Buffer.from('s:8').toString('base64url')}`)
    // Bo is seq 1, alex<i> seq i + 2: the walk past the counted matches finds the oldest ones.
    expect(emailsOf(rest.body)).toEqual([
      'alex5@example.com',
      'alex4@example.com',
      'alex3@example.com',
      'alex2@example.com',
      'alex1@example.com',
      'alex0@example.com',
    ])
    expect(rest.body.pagination.has_more).toBe(false)
    expect(emailsOf((await search(ws.key, 'q=bo')).body)).toEqual(['bo@example.com'])
  })
})
