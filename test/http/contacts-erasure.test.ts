/**
 * DELETE /api/v1/contacts/:id (GDPR erasure): the contact, its leads and their payloads go; pages,
 * totals, cursors, source filters and the overview's counts stay exact around the holes; deals stay
 * unlinked; stored events are redacted; `contact.deleted` reaches a real receiver without personal data.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { leadTotals, leadsBySource, leadsPerDay } from '../../src/modules/leads/service'
import { startDispatcherDriver } from '../dispatcher-driver'
import { createHarness, expectProblem, type Harness } from '../helpers'
import { startReceiver, until, verifyAt } from '../webhooks-helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

// The list checks make hundreds of requests with one key.
const h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ASKAD_RATE_LIMIT: '100000' } })
afterAll(() => h.close())

interface Page {
  data: { id: string }[]
  pagination: { page: number | null; limit: number; total: number; has_more: boolean; next_cursor: string | null }
}

async function getPage(key: string, path: string): Promise<{ body: Page; link: string | null }> {
  const res = await h.request('GET', path, { key })
  expect(res.status).toBe(200)
  return { body: (await res.json()) as Page, link: res.headers.get('link') }
}

async function erase(key: string, id: string): Promise<Response> {
  return h.request('DELETE', `/api/v1/contacts/${id}`, { key })
}

interface AuditEntry {
  action: string
  actor: { type: string; label: string }
  target: { type: string; id: string }
  details: Record<string, unknown>
}

/** The workspace's `contact.erased` audit entries for `contactId`. */
async function erasedEntries(key: string, contactId: string): Promise<AuditEntry[]> {
  const res = await h.request('GET', '/api/v1/audit-log?action=contact.erased&limit=200', { key })
  expect(res.status).toBe(200)
  return ((await res.json()) as { data: AuditEntry[] }).data.filter((e) => e.target.id === contactId)
}

const LIMITS = [1, 4, 7, 200]

/**
 * Every page at several limits, the Link header's last page and the `after` walk of `path` (with
 * `query`) hold exactly `expected` (ids, newest first): no duplicates, no gaps, full pages.
 */
async function expectList(key: string, path: string, query: string, expected: string[]) {
  const sep = query ? '&' : ''
  for (const limit of LIMITS) {
    const pages = Math.max(1, Math.ceil(expected.length / limit))
    for (let page = 1; page <= pages + 1; page++) {
      const { body, link } = await getPage(key, `${path}?${query}${sep}limit=${limit}&page=${page}`)
      const want = expected.slice((page - 1) * limit, page * limit)
      expect({ limit, page, ids: body.data.map((r) => r.id) }).toEqual({ limit, page, ids: want })
      expect(body.pagination).toMatchObject({ page, limit, total: expected.length, has_more: page * limit < expected.length })
      expect(link).toContain(`page=${pages}>; rel="last"`)
      if (page * limit < expected.length) expect(link).toContain(`page=${page + 1}>; rel="next"`)
      else expect(link).not.toContain('rel="next"')
    }
    // The cursor walk from the first page.
    const walked: string[] = []
    let next: string | null = null
    do {
      const cursor: string = next === null ? '' : `&after=${next}`
      const { body } = await getPage(key, `${path}?${query}${sep}limit=${limit}${cursor}`)
      walked.push(...body.data.map((r) => r.id))
      expect(body.pagination.total).toBe(expected.length)
      next = body.pagination.next_cursor
    } while (next !== null)
    expect({ limit, walked }).toEqual({ limit, walked: expected })
  }
}

describe('contact pages stay exact around erased contacts', async () => {
  const ws = await h.workspace()
  /** Contacts in creation order, with their first source and their leads. */
  const alive: { id: string; email: string; source: string; leads: string[] }[] = []
  const sources = ['web', 'ads', 'web', 'fair']

  const newestFirst = (source?: string) =>
    alive
      .filter((c) => source === undefined || c.source === source)
      .map((c) => c.id)
      .reverse()
  const leadsNewestFirst = (source?: string) =>
    leadLog
      .filter((l) => alive.some((c) => c.leads.includes(l.id)) && (source === undefined || l.source === source))
      .map((l) => l.id)
      .reverse()
  /** Leads in creation order. */
  const leadLog: { id: string; source: string }[] = []

  async function expectEverything() {
    await expectList(ws.key, '/api/v1/contacts', '', newestFirst())
    for (const source of new Set(sources)) await expectList(ws.key, '/api/v1/contacts', `source=${source}`, newestFirst(source))
    await expectList(ws.key, '/api/v1/leads', '', leadsNewestFirst())
    for (const source of ['web', 'ads', 'fair', 'again']) await expectList(ws.key, '/api/v1/leads', `source=${source}`, leadsNewestFirst(source))
    const liveLeads = leadsNewestFirst()
    expect(await leadTotals(h.deps, ws.id)).toEqual({ leads: liveLeads.length, contacts: alive.length })
    const bySource = new Map<string, number>()
    for (const l of leadLog) if (liveLeads.includes(l.id)) bySource.set(l.source, (bySource.get(l.source) ?? 0) + 1)
    const counted = await leadsBySource(h.deps, ws.id)
    expect(new Map(counted.map((s) => [s.source, s.count]))).toEqual(bySource)
    const days = await leadsPerDay(h.deps, ws.id, h.clock.now(), 3)
    expect(days.reduce((n, d) => n + d.count, 0)).toBe(liveLeads.length)
  }

  test('setup: 15 contacts (3 pages of 5) from three sources, some with a second lead', async () => {
    for (let i = 0; i < 15; i++) {
      const source = sources[i % sources.length]!
      const lead = await h.pushLead(ws.key, { email: `p${i}@example.com`, first_name: `Person${i}`, source })
      alive.push({ id: lead.contact_id, email: `p${i}@example.com`, source, leads: [lead.id] })
      leadLog.push({ id: lead.id, source })
      if (i % 3 === 0) {
        const again = await h.pushLead(ws.key, { email: `p${i}@example.com`, source: 'again' })
        alive[i]!.leads.push(again.id)
        leadLog.push({ id: again.id, source: 'again' })
      }
      h.clock.advance(1000)
    }
    await expectEverything()
  })

  test('erasing one contact in the middle keeps every page, total, Link, cursor and source filter exact', async () => {
    const [victim] = alive.splice(7, 1)
    const res = await erase(ws.key, victim!.id)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ id: victim!.id, object: 'contact', deleted: true, leads_deleted: victim!.leads.length })
    expect(await h.rows.count('contacts', { id: victim!.id })).toBe(0)
    for (const id of victim!.leads) expect(await h.rows.count('leads', { id })).toBe(0)
    await expectEverything()
  })

  test('erasing several, among them the newest and the oldest, and a run of neighbours', async () => {
    const victims = [alive.at(-1)!, alive[0]!, alive[5]!, alive[6]!, alive[7]!]
    for (const v of victims) {
      expect((await erase(ws.key, v.id)).status).toBe(200)
      alive.splice(alive.indexOf(v), 1)
    }
    await expectEverything()
  })

  test('a cursor taken before an erasure still walks on after it', async () => {
    const { body } = await getPage(ws.key, '/api/v1/contacts?limit=2')
    const [next] = alive.slice(-3, -2)
    expect((await erase(ws.key, next!.id)).status).toBe(200)
    alive.splice(alive.indexOf(next!), 1)
    const rest = await getPage(ws.key, `/api/v1/contacts?limit=200&after=${body.pagination.next_cursor}`)
    expect(rest.body.data.map((c) => c.id)).toEqual(newestFirst().slice(2))
  })

  test('a second DELETE is a 404, and a new lead with the same email makes a fresh contact on page 1', async () => {
    const victim = alive[1]!
    expect((await erase(ws.key, victim.id)).status).toBe(200)
    alive.splice(1, 1)
    await expectProblem(await erase(ws.key, victim.id), 404)
    const lead = await h.pushLead(ws.key, { email: victim.email, source: 'web' })
    expect(lead.contact_id).not.toBe(victim.id)
    alive.push({ id: lead.contact_id, email: victim.email, source: 'web', leads: [lead.id] })
    leadLog.push({ id: lead.id, source: 'web' })
    const { body } = await getPage(ws.key, '/api/v1/contacts?limit=1')
    expect(body.data[0]!.id).toBe(lead.contact_id)
    await expectEverything()
  })

  test('filtered lists (email, updated_since) answer exact totals too', async () => {
    const { body } = await getPage(ws.key, '/api/v1/contacts?updated_since=2000-01-01T00:00:00Z&limit=3')
    expect(body.pagination.total).toBe(alive.length)
    const gone = await getPage(ws.key, '/api/v1/contacts?email=p0@example.com')
    expect(gone.body.data).toEqual([])
  })
})

describe('leads racing an erasure', async () => {
  const ws = await h.workspace()

  test('a lead for the same email ends before the erasure (erased with it) or after it (a fresh contact), never on a deleted contact', async () => {
    for (let round = 0; round < 5; round++) {
      const email = `race${round}@example.com`
      const victim = await h.pushLead(ws.key, { email, phone: `+1555010${round}00` })
      const push = (i: number) =>
        h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email, ...(i % 2 ? { phone: `+1555010${round}00` } : {}), source: 'race' } })
      const [erased, ...pushed] = await Promise.all([erase(ws.key, victim.contact_id), ...Array.from({ length: 8 }, (_, i) => push(i))])
      expect(erased.status).toBe(200)
      const { leads_deleted } = (await erased.json()) as { leads_deleted: number }
      const created = await Promise.all(pushed.map(async (r) => ({ ...((await r.json()) as { id: string; contact_id: string }), code: r.status })))
      expect(created.map((c) => c.code)).toEqual(created.map(() => 201))
      // Every lead that survived points at a contact that exists (not the erased one); the others went with the erasure.
      const survivors = created.filter((c) => c.contact_id !== victim.contact_id)
      for (const c of survivors) {
        expect(await h.rows.count('contacts', { id: c.contact_id })).toBe(1)
        expect(await h.rows.count('leads', { id: c.id })).toBe(1)
      }
      expect(leads_deleted).toBe(1 + created.length - survivors.length)
      expect(await h.rows.count('leads', { contactId: victim.contact_id })).toBe(0)
      expect(new Set(survivors.map((c) => c.contact_id)).size).toBeLessThanOrEqual(1)
    }
    const { body } = await getPage(ws.key, '/api/v1/leads?limit=200')
    expect(body.pagination.total).toBe(body.data.length)
  })
})

describe('a contact with thousands of leads', async () => {
  const ws = await h.workspace()
  /** More leads than one PostgreSQL statement could bind as erased seqs (2 per lead, 3 parameters each, 65,535 at most). */
  const LEADS = 11_000

  /** Adds `n` leads (and their lead.created events) to a contact straight in SQL, numbered as ingest numbers them. */
  async function bulkLeads(contactId: string, n: number) {
    const base = (await leadTotals(h.deps, ws.id)).leads
    const now = h.clock.now()
    const payload = JSON.stringify({ type: 'lead.created', data: { lead: { email: 'busy@example.com' } } })
    if (h.deps.pg) {
      const pg = h.deps.pg.$client
      await pg`INSERT INTO leads (id, workspace_id, contact_id, seq, source_seq, channel, source, email, metadata, status, created_at)
        SELECT gen_random_uuid()::text, ${ws.id}, ${contactId}, ${base} + g, g, 'inbound', 'cron', 'busy@example.com', '{}', 'new', ${now}::bigint FROM generate_series(1, ${n}) g`
      await pg`INSERT INTO events (id, workspace_id, type, payload, contact_id, created_at)
        SELECT gen_random_uuid()::text, ${ws.id}, 'lead.created', ${payload}, ${contactId}, ${now}::bigint FROM generate_series(1, ${n}) g`
      await pg`UPDATE counters SET value = value + ${n} WHERE workspace_id = ${ws.id} AND name = 'leads'`
      await pg`INSERT INTO counters (workspace_id, name, value) VALUES (${ws.id}, 'leads:source:cron', ${n})`
      return
    }
    const sqlite = h.db.$client
    const series = 'WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $n)'
    sqlite
      .query(`${series} INSERT INTO leads (id, workspace_id, contact_id, seq, source_seq, channel, source, email, metadata, status, created_at)
        SELECT lower(hex(randomblob(16))), $ws, $contact, $base + i, i, 'inbound', 'cron', 'busy@example.com', '{}', 'new', $now FROM g`)
      .run({ n, ws: ws.id, contact: contactId, base, now })
    sqlite
      .query(`${series} INSERT INTO events (id, workspace_id, type, payload, contact_id, created_at)
        SELECT lower(hex(randomblob(16))), $ws, 'lead.created', $payload, $contact, $now FROM g`)
      .run({ n, ws: ws.id, contact: contactId, payload, now })
    sqlite.query("UPDATE counters SET value = value + $n WHERE workspace_id = $ws AND name = 'leads'").run({ n, ws: ws.id })
    sqlite.query("INSERT INTO counters (workspace_id, name, value) VALUES ($ws, 'leads:source:cron', $n)").run({ n, ws: ws.id })
  }

  test('is erased in one go: every lead, event and seq, in statements PostgreSQL can bind', async () => {
    const kept = await h.pushLead(ws.key, { email: 'kept@example.com', source: 'kept' })
    const busy = await h.pushLead(ws.key, { email: 'busy@example.com', source: 'web' })
    await bulkLeads(busy.contact_id, LEADS)
    expect((await leadTotals(h.deps, ws.id)).leads).toBe(LEADS + 2)

    const res = await erase(ws.key, busy.contact_id)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ leads_deleted: LEADS + 1, events_redacted: LEADS + 1 })
    expect(await leadTotals(h.deps, ws.id)).toEqual({ leads: 1, contacts: 1 })
    expect(await leadsBySource(h.deps, ws.id)).toEqual([{ source: 'kept', count: 1 }])
    await expectList(ws.key, '/api/v1/leads', '', [kept.id])
    expect(await findEverywhere(h, 'busy@example.com')).toEqual([])
  }, 60_000)
})

describe('refusals', async () => {
  const ws = await h.workspace()
  const other = await h.workspace()

  test('404 for an unknown id and for another workspace’s contact, which stays', async () => {
    await expectProblem(await erase(ws.key, '00000000-0000-0000-0000-000000000000'), 404)
    const theirs = await h.pushLead(other.key, { email: 'theirs@example.com' })
    await expectProblem(await erase(ws.key, theirs.contact_id), 404)
    expect(await h.rows.count('contacts', { id: theirs.contact_id })).toBe(1)
  })

  test('403 without contacts:write, and nothing is erased', async () => {
    const lead = await h.pushLead(ws.key, { email: 'kept@example.com' })
    const reader = await h.key(ws.id, { scopes: ['contacts:read', 'leads:write', 'leads:read'] })
    await expectProblem(await erase(reader.key, lead.contact_id), 403)
    expect(await h.rows.count('contacts', { id: lead.contact_id })).toBe(1)
    expect(await erasedEntries(ws.key, lead.contact_id)).toEqual([])
  })
})

describe('what an erasure leaves', async () => {
  const ws = await h.workspace()
  const EMAIL = 'erase.me@example.com'
  const PHONE = '+15550109999'
  const rx = startReceiver()
  afterAll(() => rx.stop())

  test('deals stay unlinked, events are redacted, pending deliveries send the redacted payload, contact.deleted carries ids only', async () => {
    const hookRes = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: `${rx.url}/hook` } })
    const hook = (await hookRes.json()) as { id: string; secret: string }

    const first = await h.pushLead(ws.key, {
      email: EMAIL,
      phone: PHONE,
      first_name: 'Erin',
      last_name: 'Erasable',
      source: 'web',
      metadata: { favourite: 'erase-me-metadata' },
    })
    const second = await h.pushLead(ws.key, { email: EMAIL, source: 'fair' })
    // A conversion with the default title (the person's name), with an Idempotency-Key whose stored answer carries the lead.
    const converted = await h.request('POST', `/api/v1/leads/${first.id}/convert`, {
      key: ws.key,
      body: { stage: 'won' },
      headers: { 'idempotency-key': 'convert-1' },
    })
    expect(converted.status).toBe(201)
    const { deal } = (await converted.json()) as { deal: { id: string; title: string } }
    expect(deal.title).toBe('Erin Erasable')
    const named = await h.request('POST', '/api/v1/deals', {
      key: ws.key,
      body: { title: 'Annual plan', value: 10, currency: 'USD', contact_id: first.contact_id },
    })
    const namedDeal = (await named.json()) as { id: string }
    // No dispatcher runs yet: every delivery is still pending when the contact is erased.
    expect(await h.rows.count('webhookDeliveries', { status: 'pending', workspaceId: ws.id })).toBe(4)

    const res = await erase(ws.key, first.contact_id)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ leads_deleted: 2, deals_unlinked: 2, events_redacted: 4 })
    const [audited, ...more] = await erasedEntries(ws.key, first.contact_id)
    expect(more).toEqual([])
    expect(audited).toMatchObject({
      actor: { type: 'key', label: expect.stringMatching(/^ask_sk_/) },
      target: { type: 'contact', id: first.contact_id },
      details: { leads_deleted: 2, deals_unlinked: 2, events_redacted: 4 },
    })

    const kept = await h.rows.find('deals', { id: deal.id })
    expect(kept).toMatchObject({ title: 'Erased contact', contactId: null, leadId: null, stage: 'won' })
    expect(await h.rows.find('deals', { id: namedDeal.id })).toMatchObject({ title: 'Annual plan', contactId: null })

    // A retry of the conversion finds no stored answer (it carried the lead) and no lead.
    await expectProblem(
      await h.request('POST', `/api/v1/leads/${first.id}/convert`, { key: ws.key, body: { stage: 'won' }, headers: { 'idempotency-key': 'convert-1' } }),
      404,
    )

    const dispatcher = startDispatcherDriver(h.deps, { random: () => 0.5 })
    try {
      await dispatcher.runDue()
      await until(() => rx.requests.length >= 5, 5_000, 'deliveries')
    } finally {
      await dispatcher.stop()
    }
    const bodies = rx.requests.map((r) => r.body)
    for (const body of bodies) {
      for (const personal of [EMAIL, PHONE, 'Erin', 'Erasable', 'erase-me-metadata']) expect(body).not.toContain(personal)
    }
    const deleted = rx.requests.find((r) => JSON.parse(r.body).type === 'contact.deleted')!
    const event = verifyAt(hook.secret, deleted, h.clock.now()) as { data: Record<string, unknown> }
    expect(event.data).toEqual({
      contact: { id: first.contact_id, object: 'contact', deleted: true },
      deleted_at: new Date(h.clock.now()).toISOString(),
      lead_count: 2,
      lead_ids: [second.id, first.id],
      lead_ids_truncated: false,
    })
    const created = rx.requests.map((r) => JSON.parse(r.body)).filter((e) => e.type === 'lead.created')
    expect(created.map((e) => e.data.lead)).toEqual([
      { id: first.id, object: 'lead', erased: true },
      { id: second.id, object: 'lead', erased: true },
    ])
  })

  test('no table of the database holds the email any more, nor (SQLite) the file', async () => {
    const found = await findEverywhere(h, EMAIL)
    expect(found).toEqual([])
    if (h.engine === 'sqlite') {
      h.db.$client.exec('PRAGMA wal_checkpoint(TRUNCATE)')
      expect(readFileSync(h.dbPath).includes(Buffer.from(EMAIL))).toBe(false)
    }
  })
})

describe('stored answers', async () => {
  const ws = await h.workspace()

  test('an export filtered by the person’s email or a search for them leaves neither in the audit log', async () => {
    const lead = await h.pushLead(ws.key, { email: 'exported.person@example.com', first_name: 'Xavier', last_name: 'Exportson' })
    for (const query of ['email=exported.person@example.com', 'q=Exportson', 'q=exported.person'])
      expect((await h.request('GET', `/api/v1/contacts.csv?${query}`, { key: ws.key })).status).toBe(200)
    expect((await erase(ws.key, lead.contact_id)).status).toBe(200)
    for (const personal of ['exported.person', 'Exportson']) expect(await findEverywhere(h, personal)).toEqual([])
    const exports = (await h.rows.all('auditLog', { workspaceId: ws.id, action: 'contacts.exported' })).map((r) => r.details)
    expect(exports).toHaveLength(3)
  })

  test('a deal created with an Idempotency-Key and the person’s name as title: its stored answer goes, like the title', async () => {
    const lead = await h.pushLead(ws.key, { email: 'zed@example.com', first_name: 'Zed', last_name: 'Zedson' })
    const body = { title: 'Zed Zedson', value: 5, currency: 'USD', contact_id: lead.contact_id }
    const headers = { 'idempotency-key': 'deal-named-after-zed' }
    expect((await h.request('POST', '/api/v1/deals', { key: ws.key, body, headers })).status).toBe(201)
    expect((await erase(ws.key, lead.contact_id)).status).toBe(200)
    expect(await findEverywhere(h, 'Zedson')).toEqual([])
    // A retry no longer replays the name: it is a new request, refused for the contact that is gone.
    const retry = await h.request('POST', '/api/v1/deals', { key: ws.key, body, headers })
    expect(await retry.text()).not.toContain('Zedson')
  })
})

describe('the dashboard', async () => {
  const ws = await h.workspace()
  const base = `/dashboard/w/${ws.slug}`
  const ORIGIN = 'http://localhost'
  const formBody = (fields: Record<string, string>) => new URLSearchParams(fields)

  /** A signed-in session of `key`: GET a page, POST a form with the page's CSRF token. */
  async function session(key: string) {
    const res = await h.request('POST', '/dashboard/sign-in', {
      rawBody: formBody({ key, next: '/dashboard' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
    })
    expect(res.status).toBe(303)
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!
    const get = (path: string) => h.request('GET', path, { headers: { cookie } })
    const csrf = async () => /name="_csrf" value="([^"]+)"/.exec(await (await get(base)).text())![1]!
    const send = async (path: string, fields: Record<string, string>) =>
      h.request('POST', path, {
        rawBody: formBody({ _csrf: await csrf(), ...fields }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, cookie },
      })
    return { get, send }
  }

  test('the contact page erases behind "I understand" (and data-confirm), then the list says so', async () => {
    const s = await session(ws.key)
    const lead = await h.pushLead(ws.key, { email: 'dash.erase@example.com', first_name: 'Dana' })
    const page = await (await s.get(`${base}/contacts/${lead.contact_id}`)).text()
    expect(page).toContain(`action="${base}/contacts/${lead.contact_id}/erase"`)
    expect(page).toContain('data-confirm=')
    expect(page).toMatch(/<input type="checkbox" name="understood" value="yes" required>/)

    const unticked = await s.send(`${base}/contacts/${lead.contact_id}/erase`, {})
    expect(unticked.status).toBe(422)
    expect(await unticked.text()).toContain('I understand')
    expect(await h.rows.count('contacts', { id: lead.contact_id })).toBe(1)

    const done = await s.send(`${base}/contacts/${lead.contact_id}/erase`, { understood: 'yes' })
    expect(done.status).toBe(303)
    expect(done.headers.get('location')).toBe(`${base}/contacts?done=erased`)
    expect(await h.rows.count('contacts', { id: lead.contact_id })).toBe(0)
    const list = await (await s.get(`${base}/contacts?done=erased`)).text()
    expect(list).toContain('Contact erased')
    expect(list).not.toContain('dash.erase@example.com')
    expect((await s.get(`${base}/contacts/${lead.contact_id}`)).status).toBe(404)
    const [audited] = await erasedEntries(ws.key, lead.contact_id)
    expect(audited).toMatchObject({ action: 'contact.erased', details: { leads_deleted: 1 } })
  })

  test('a session whose key lacks contacts:write sees no erase form and cannot post one', async () => {
    const reader = await h.key(ws.id, { scopes: ['keys:manage', 'contacts:read', 'leads:read'] })
    const s = await session(reader.key)
    const lead = await h.pushLead(ws.key, { email: 'dash.keep@example.com' })
    const page = await (await s.get(`${base}/contacts/${lead.contact_id}`)).text()
    expect(page).not.toContain('/erase"')
    expect((await s.send(`${base}/contacts/${lead.contact_id}/erase`, { understood: 'yes' })).status).toBe(403)
    expect(await h.rows.count('contacts', { id: lead.contact_id })).toBe(1)
  })
})

/** Tables (and columns) whose text holds `needle`, read from the database's own catalogue. */
async function findEverywhere(harness: Harness, needle: string): Promise<string[]> {
  const hits: string[] = []
  if (harness.deps.pg) {
    const pg = harness.deps.pg.$client
    const tables: { table_name: string }[] =
      await pg`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`
    for (const { table_name } of tables) {
      const rows: Record<string, unknown>[] = await pg.unsafe(`SELECT * FROM "${table_name}"`)
      for (const row of rows) if (JSON.stringify(row).includes(needle)) hits.push(table_name)
    }
    return hits
  }
  const tables = harness.db.$client.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'").all()
  for (const { name } of tables) {
    const rows = harness.db.$client.query<Record<string, unknown>, []>(`SELECT * FROM "${name}"`).all()
    for (const row of rows) if (JSON.stringify(row).includes(needle)) hits.push(name)
  }
  return hits
}
