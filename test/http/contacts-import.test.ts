/** POST /api/v1/contacts/import: mapping, dry run, dedupe, row errors, idempotency, limits; on both engines. */
import { afterAll, describe, expect, test } from 'bun:test'
import { MAX_CSV_BODY_BYTES } from '../../src/plugins/body'
import { MAX_REPORTED_ERRORS } from '../../src/modules/contacts/import'
import { createHarness, expectProblem, TEST_ENGINE } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

async function importCsv(key: string, csv: string | Uint8Array<ArrayBuffer>, query = '', headers: Record<string, string> = {}) {
  const res = await h.request('POST', `/api/v1/contacts/import${query}`, {
    key,
    rawBody: typeof csv === 'string' ? csv : new Blob([csv]),
    headers: { 'content-type': 'text/csv', ...headers },
  })
  return { res, body: await res.json() }
}

async function contacts(key: string) {
  const res = await h.request('GET', '/api/v1/contacts?limit=200', { key })
  return (await res.json()).data as Record<string, unknown>[]
}

describe('importing', () => {
  test('our field names by default; other columns become metadata; rows dedupe against the file and existing contacts', async () => {
    const ws = await h.workspace()
    const known = await h.pushLead(ws.key, { email: 'known@example.com', first_name: 'Known', source: 'crm' })
    const csv = [
      'Email,First_Name,last_name,phone,plan,empty',
      'jane@example.com,Jane,Smith,+1 555 0100,pro,',
      'KNOWN@example.com,,Person,,free,',
      'JANE@example.com,Janet,,,team,', // the same person again: merged, not a new contact
      ',,,555-0199,,', // phone only
    ].join('\r\n')
    const { res, body } = await importCsv(ws.key, csv)
    expect(res.status).toBe(200)
    expect(body).toEqual({
      object: 'contact_import',
      dry_run: false,
      rows: 4,
      imported: 4,
      failed: 0,
      contacts_created: 2,
      contacts_updated: 2,
      events_emitted: false,
      columns: { email: 'Email', phone: 'phone', first_name: 'First_Name', last_name: 'last_name', source: null, metadata: ['plan', 'empty'] },
      errors: [],
      errors_truncated: false,
    })
    const all = await contacts(ws.key)
    expect(all).toHaveLength(3)
    const jane = all.find((c) => c.email === 'jane@example.com')!
    expect(jane).toMatchObject({
      first_name: 'Jane',
      last_name: 'Smith',
      phone: '+15550100',
      first_source: 'import',
      lead_count: 2,
      metadata: { plan: 'team' },
    })
    expect(all.find((c) => c.id === known.contact_id)).toMatchObject({
      first_name: 'Known',
      last_name: 'Person',
      first_source: 'crm',
      last_source: 'import',
      lead_count: 2,
    })
    const leads = (await (await h.request('GET', '/api/v1/leads?source=import', { key: ws.key })).json()).data
    expect(leads).toHaveLength(4)
    expect(leads[0]).toMatchObject({ channel: 'import', phone: '5550199' })
  })

  test('column mapping by query, a default source, and the source column', async () => {
    const ws = await h.workspace()
    const csv = 'E-mail,Given name,Origin\nana@example.com,Ana,fair\nbo@example.com,Bo,\n'
    const { body } = await importCsv(ws.key, csv, '?column_email=e-mail&column_first_name=Given%20name&column_source=Origin&source=upload')
    expect(body).toMatchObject({ imported: 2, columns: { email: 'E-mail', first_name: 'Given name', source: 'Origin', metadata: [] } })
    const all = await contacts(ws.key)
    expect(all.map((c) => [c.email, c.first_name, c.first_source])).toEqual([
      ['bo@example.com', 'Bo', 'upload'],
      ['ana@example.com', 'Ana', 'fair'],
    ])
    const missing = await importCsv(ws.key, csv, '?column_phone=Tel')
    expect(missing.res.status).toBe(422)
    expect(missing.body.errors[0].path).toBe('query.column_phone')
  })

  test('an export imports back: its own columns skipped, metadata JSON merged, defused cells restored', async () => {
    const from = await h.workspace()
    await h.pushLead(from.key, {
      email: 'round@example.com',
      first_name: '=Trip',
      phone: '+44 20 7946 0000',
      source: 'hubspot',
      metadata: { tier: 'gold', n: 2 },
    })
    const exported = await (await h.request('GET', '/api/v1/contacts.csv', { key: from.key })).text()
    const to = await h.workspace()
    const { body } = await importCsv(to.key, exported)
    expect(body).toMatchObject({ imported: 1, failed: 0, columns: { source: 'first_source', metadata: ['metadata'] } })
    const [copy] = await contacts(to.key)
    expect(copy).toMatchObject({
      email: 'round@example.com',
      first_name: '=Trip',
      phone: '+442079460000',
      first_source: 'hubspot',
      metadata: { tier: 'gold', n: 2 },
    })
  })

  test('emit_events=true emits lead.created per row; the default emits none', async () => {
    const ws = await h.workspace()
    await importCsv(ws.key, 'email\na@example.com\n')
    expect(await h.rows.count('events', { workspaceId: ws.id })).toBe(0)
    const { body } = await importCsv(ws.key, 'email\nb@example.com\nc@example.com\n', '?emit_events=true')
    expect(body.events_emitted).toBe(true)
    expect(await h.rows.count('events', { workspaceId: ws.id, type: 'lead.created' })).toBe(2)
  })

  test('the import is in the audit log', async () => {
    const ws = await h.workspace()
    await importCsv(ws.key, 'email\na@example.com\nbad\n')
    const audit = await (await h.request('GET', '/api/v1/audit-log?action=contacts.imported', { key: ws.key })).json()
    expect(audit.data).toHaveLength(1)
    expect(audit.data[0].details).toEqual({ rows: 2, imported: 1, failed: 1, emit_events: false })
  })
})

describe('dry run and row errors', () => {
  const csv = [
    'email,phone,first_name',
    'ok@example.com,,Ok',
    'not-an-email,,Bad',
    ',,Nobody',
    'short@example.com',
    'wide@example.com,1,2,3',
    '"quoted, fine@example.com",,',
    'ctl@example.com,,a\u0007b',
  ].join('\n')

  test('every failing row reported with row, line, field and message; the good rows stored', async () => {
    const ws = await h.workspace()
    const { res, body } = await importCsv(ws.key, csv)
    expect(res.status).toBe(200)
    expect(body).toMatchObject({ rows: 7, imported: 1, failed: 6, contacts_created: 1 })
    expect(body.errors.map((e: { row: number; line: number; field: string | null }) => [e.row, e.line, e.field])).toEqual([
      [3, 3, 'email'],
      [4, 4, 'email'],
      [5, 5, null],
      [6, 6, null],
      [7, 7, 'email'],
      [8, 8, 'first_name'],
    ])
    expect(body.errors[2].message).toBe('has 1 fields; the header row has 3')
    expect(await contacts(ws.key)).toHaveLength(1)
  })

  test('dry_run=true reports the same and stores nothing', async () => {
    const ws = await h.workspace()
    const { body } = await importCsv(ws.key, csv, '?dry_run=true')
    expect(body).toMatchObject({ dry_run: true, rows: 7, imported: 1, failed: 6, contacts_created: null, contacts_updated: null })
    expect(body.errors).toHaveLength(6)
    expect(await h.rows.count('contacts', { workspaceId: ws.id })).toBe(0)
    expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(0)
  })

  test(`the report lists the first ${MAX_REPORTED_ERRORS} errors and counts all`, async () => {
    const ws = await h.workspace()
    const rows = Array.from({ length: MAX_REPORTED_ERRORS + 5 }, () => 'nope')
    const { body } = await importCsv(ws.key, `email\n${rows.join('\n')}\n`, '?dry_run=true')
    expect(body).toMatchObject({ failed: MAX_REPORTED_ERRORS + 5, errors_truncated: true })
    expect(body.errors).toHaveLength(MAX_REPORTED_ERRORS)
  })

  test('more rows than one transaction holds are all stored', async () => {
    const ws = await h.workspace()
    const rows = Array.from({ length: 1203 }, (_, i) => `p${i % 1100}@example.com,Person${i}`)
    const { body } = await importCsv(ws.key, `email,first_name\n${rows.join('\n')}\n`)
    expect(body).toMatchObject({ rows: 1203, imported: 1203, contacts_created: 1100, contacts_updated: 103 })
    expect(await h.rows.count('contacts', { workspaceId: ws.id })).toBe(1100)
    expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(1203)
  })
})

describe('idempotency', () => {
  test('the same key replays the same report and stores nothing twice; another file with it is 422', async () => {
    const ws = await h.workspace()
    const csv = 'email\nonce@example.com\ntwice@example.com\n'
    const headers = { 'idempotency-key': 'import-1' }
    const first = await importCsv(ws.key, csv, '', headers)
    const again = await importCsv(ws.key, csv, '', headers)
    expect(again.res.headers.get('idempotent-replayed')).toBe('true')
    expect(again.body).toEqual(first.body)
    expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(2)
    const other = await importCsv(ws.key, 'email\nother@example.com\n', '', headers)
    expect(other.res.status).toBe(422)
    expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(2)
  })

  test('a dry run replays too', async () => {
    const ws = await h.workspace()
    const headers = { 'idempotency-key': 'dry-1' }
    const first = await importCsv(ws.key, 'email\na@example.com\n', '?dry_run=true', headers)
    const again = await importCsv(ws.key, 'email\na@example.com\n', '?dry_run=true', headers)
    expect(again.res.headers.get('idempotent-replayed')).toBe('true')
    expect(again.body).toEqual(first.body)
  })
})

describe('bad requests store nothing and are never a 500', () => {
  test('wrong content type is 415; JSON too', async () => {
    const ws = await h.workspace()
    await expectProblem(await h.request('POST', '/api/v1/contacts/import', { key: ws.key, body: { email: 'a@example.com' } }), 415)
    await expectProblem(
      await h.request('POST', '/api/v1/contacts/import', { key: ws.key, rawBody: 'email\na@b.co\n', headers: { 'content-type': 'text/plain' } }),
      415,
    )
  })

  test('a file over the limit is 413', async () => {
    const ws = await h.workspace()
    const big = new Uint8Array(MAX_CSV_BODY_BYTES + 1).fill(0x61)
    await expectProblem(
      await h.request('POST', '/api/v1/contacts/import', { key: ws.key, rawBody: new Blob([big]), headers: { 'content-type': 'text/csv' } }),
      413,
    )
  })

  test('empty, blank, header-only, no email or phone column, duplicate columns, unclosed quote, binary', async () => {
    const ws = await h.workspace()
    for (const [csv, status] of [
      ['', 422],
      ['\r\n\r\n', 422],
      ['name,plan\nann,pro\n', 422],
      ['email,Email\na@example.com,b@example.com\n', 422],
      ['email\n"a@example.com\n', 422],
      ['email,\na@example.com,x\n', 422],
    ] as const) {
      const { res } = await importCsv(ws.key, csv)
      expect(res.status, JSON.stringify(csv)).toBe(status)
    }
    const headerOnly = await importCsv(ws.key, 'email,phone\r\n')
    expect(headerOnly.res.status).toBe(200)
    expect(headerOnly.body).toMatchObject({ rows: 0, imported: 0, failed: 0 })
    const binary = await importCsv(ws.key, new Uint8Array([0xff, 0xfe, 0x00, 0x81, 0x0a, 0xc3]))
    expect(binary.res.status).toBe(400)
    expect(binary.body.detail).toContain('not UTF-8')
    const garbage = await importCsv(ws.key, `email\n${'\u0000\u0001,\u0002'.repeat(50)}\n`)
    expect(garbage.res.status).toBe(200)
    expect(garbage.body.imported).toBe(0)
    expect(await h.rows.count('contacts', { workspaceId: ws.id })).toBe(0)
  })

  test('needs contacts:write', async () => {
    const ws = await h.workspace()
    const readOnly = await h.key(ws.id, { scopes: ['contacts:read'] })
    const { res } = await importCsv(readOnly.key, 'email\na@example.com\n')
    expect(res.status).toBe(403)
    expect(await h.rows.count('contacts', { workspaceId: ws.id })).toBe(0)
  })
})

/**
 * Rows that keep an import busy for 2.5-7 s on a 2-core machine (PostgreSQL stores them about five times
 * slower), and when Bun cuts a connection idle at 1 s: without the import's own timeout the request failed
 * here with ECONNRESET whenever it ran past ~4 s.
 */
const IDLE_ROWS = TEST_ENGINE === 'postgres' ? 12_000 : 60_000
const IDLE_CUT_MS = 4_500

describe('a long import over a real connection', () => {
  test('is answered, not cut off by the server closing idle connections', async () => {
    const listening = createHarness()
    try {
      // Bun's 10 s default scaled down to its smallest: Bun checks idle connections every 4 s or so, so a request
      // silent for about 5 s is cut (ECONNRESET) while the import goes on storing rows. 60,000 rows take 6-7 s here.
      listening.app.listen({ hostname: '127.0.0.1', port: 0, idleTimeout: 1 })
      const ws = await listening.workspace()
      const rows = Array.from({ length: IDLE_ROWS }, (_, i) => `slow${i}@example.com,Row${i}`)
      const started = Date.now()
      const res = await fetch(`http://127.0.0.1:${listening.app.server!.port}/api/v1/contacts/import`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ws.key}`, 'content-type': 'text/csv' },
        body: ['email,first_name', ...rows].join('\n'),
      })
      expect(res.status).toBe(200)
      expect((await res.json()).imported).toBe(IDLE_ROWS)
      if (Date.now() - started < IDLE_CUT_MS) console.warn(`import answered within ${IDLE_CUT_MS} ms: too fast here to show the idle cut`)
    } finally {
      await listening.close()
    }
  })
})
