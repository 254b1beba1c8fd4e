/** GET /api/v1/contacts.csv and /leads.csv: RFC 4180, formula-safe, filtered like the lists, streamed page by page; on both engines. */
import { afterAll, describe, expect, test } from 'bun:test'
import { WITHHELD_FILTER } from '../../src/modules/contacts/service'
import { parseCsv } from '../../src/lib/csv'
import { bulkContacts } from '../bulk-contacts'
import { createHarness, expectProblem } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

async function download(key: string, path: string) {
  const res = await h.request('GET', path, { key })
  return { res, text: await res.text() }
}

const records = (text: string) => [...parseCsv(text)].map((r) => r.fields)

describe('contacts.csv', async () => {
  const ws = await h.workspace()

  test('setup: people whose fields need quoting, defusing and UTF-8', async () => {
    await h.pushLead(ws.key, {
      email: 'jane@example.com',
      first_name: 'Jane, "JJ"',
      last_name: 'Zoë',
      phone: '+1 555 0100',
      source: 'hubspot',
      metadata: { note: 'a,b\r\nc' },
    })
    h.clock.advance(1000)
    await h.pushLead(ws.key, { email: 'evil@example.com', first_name: '=HYPERLINK("http://x")', last_name: '@SUM(A1)', source: '-wat', metadata: {} })
  })

  test('a header row, CRLF line ends, quotes doubled, formulas defused, metadata as JSON text; newest first', async () => {
    const { res, text } = await download(ws.key, '/api/v1/contacts.csv')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="contacts-2026-11-01.csv"')
    expect(res.headers.get('x-ratelimit-limit')).not.toBeNull()
    const lines = text.split('\r\n')
    expect(lines[0]).toBe('id,email,phone,first_name,last_name,first_source,last_source,lead_count,metadata,created_at,updated_at')
    expect(lines).toHaveLength(4) // header, two contacts, and the empty rest after the last CRLF
    expect(lines[3]).toBe('')
    expect(text.replaceAll('\r\n', '')).not.toContain('\n')
    expect(lines[1]).toContain(`,evil@example.com,,"'=HYPERLINK(""http://x"")","'@SUM(A1)","'-wat","'-wat",1,{},`)
    expect(lines[2]).toContain(`,jane@example.com,"'+15550100","Jane, ""JJ""",Zoë,hubspot,hubspot,1,"{""note"":""a,b\\r\\nc""}",`)
    expect(text.charCodeAt(0)).toBe('i'.charCodeAt(0)) // no BOM unless asked
  })

  test('?bom=true starts the file with a UTF-8 byte order mark', async () => {
    const res = await h.request('GET', '/api/v1/contacts.csv?bom=true', { key: ws.key })
    const bytes = new Uint8Array(await res.arrayBuffer())
    expect([...bytes.slice(0, 5)]).toEqual([0xef, 0xbb, 0xbf, 0x69, 0x64])
  })

  test('the list filters apply: source, email, q, updated_since', async () => {
    const emailsIn = async (query: string) =>
      records((await download(ws.key, `/api/v1/contacts.csv?${query}`)).text)
        .slice(1)
        .map((r) => r[1])
    expect(await emailsIn('source=hubspot')).toEqual(['jane@example.com'])
    expect(await emailsIn('email=EVIL@example.com')).toEqual(['evil@example.com'])
    expect(await emailsIn('q=zo')).toEqual(['jane@example.com'])
    expect(await emailsIn('updated_since=2030-01-01T00:00:00Z')).toEqual([])
  })

  test('bad filters are a problem before anything is sent', async () => {
    await expectProblem(await h.request('GET', '/api/v1/contacts.csv?updated_since=yesterday', { key: ws.key }), 422, ['query.updated_since'])
    await expectProblem(await h.request('GET', '/api/v1/contacts.csv?bom=yes', { key: ws.key }), 422)
  })

  test('needs contacts:read; another workspace sees only its own', async () => {
    const leadsOnly = await h.key(ws.id, { scopes: ['leads:read'] })
    await expectProblem(await h.request('GET', '/api/v1/contacts.csv', { key: leadsOnly.key }), 403)
    await expectProblem(await h.request('GET', '/api/v1/contacts.csv'), 401)
    const other = await h.workspace()
    expect(records((await download(other.key, '/api/v1/contacts.csv')).text)).toHaveLength(1)
  })

  test('the export is in the audit log, with its filters; a personal filter value is withheld (it would outlive an erasure)', async () => {
    expect((await h.request('GET', '/api/v1/contacts.csv?email=private.person%40example.com&q=Priv', { key: ws.key })).status).toBe(200)
    const res = await h.request('GET', '/api/v1/audit-log?action=contacts.exported', { key: ws.key })
    const body = await res.json()
    const details = body.data.map((e: { details: unknown }) => e.details)
    expect(details).toContainEqual({ filters: { source: 'hubspot' } })
    expect(details).toContainEqual({ filters: { email: WITHHELD_FILTER, q: WITHHELD_FILTER } })
    expect(JSON.stringify(await h.rows.all('auditLog'))).not.toContain('private.person')
  })
})

describe('more than one internal page', async () => {
  const ws = await h.workspace()
  const count = 1234

  test('every contact once, newest first, across pages of 500', async () => {
    await bulkContacts(
      h,
      ws.id,
      Array.from({ length: count }, (_, i) => ({ email: `bulk${i}@example.com` })),
    )
    const { text } = await download(ws.key, '/api/v1/contacts.csv')
    const emails = records(text)
      .slice(1)
      .map((r) => r[1])
    expect(emails).toHaveLength(count)
    expect(emails[0]).toBe(`bulk${count - 1}@example.com`)
    expect(emails.at(-1)).toBe('bulk0@example.com')
    expect(new Set(emails).size).toBe(count)
  })

  test('a search matching more than a page streams whole too', async () => {
    const { text } = await download(ws.key, '/api/v1/contacts.csv?q=bulk1')
    // bulk1, bulk10–19, bulk100–199, bulk1000–1233
    expect(records(text).slice(1)).toHaveLength(1 + 10 + 100 + 234)
  })
})

describe('leads.csv', async () => {
  const ws = await h.workspace()

  test('every lead with its columns; the leads filters apply; needs leads:read', async () => {
    const a = await h.pushLead(ws.key, { email: 'a@example.com', source: 'crm', metadata: { x: 1 } })
    h.clock.advance(1000)
    await h.pushLead(ws.key, { email: 'b@example.com', source: 'web' })
    const { res, text } = await download(ws.key, '/api/v1/leads.csv')
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="leads-2026-11-01.csv"')
    const rows = records(text)
    expect(rows[0]).toEqual([
      'id',
      'contact_id',
      'channel',
      'source',
      'email',
      'phone',
      'first_name',
      'last_name',
      'status',
      'deal_id',
      'metadata',
      'context',
      'created_at',
      'converted_at',
    ])
    expect(rows.slice(1).map((r) => r[4])).toEqual(['b@example.com', 'a@example.com'])
    expect(rows[2]).toEqual([a.id, a.contact_id, 'inbound', 'crm', 'a@example.com', '', '', '', 'new', '', '{"x":1}', '', rows[2]![12]!, ''])
    expect(records((await download(ws.key, '/api/v1/leads.csv?source=crm')).text)).toHaveLength(2)
    expect(records((await download(ws.key, `/api/v1/leads.csv?contact_id=${a.contact_id}`)).text)).toHaveLength(2)
    await expectProblem(await h.request('GET', '/api/v1/leads.csv?status=lost', { key: ws.key }), 422, ['query.status'])
    const contactsOnly = await h.key(ws.id, { scopes: ['contacts:read'] })
    await expectProblem(await h.request('GET', '/api/v1/leads.csv', { key: contactsOnly.key }), 403)
  })
})
