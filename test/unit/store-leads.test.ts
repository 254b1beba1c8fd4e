/** The leads store on both engines: ingest merges into contacts, numbers densely, emits; conversion; pages and the dashboard's figures. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ApiError } from '../../src/errors'
import { createLogger } from '../../src/lib/logger'
import { convertLead, createLead, getLead, leadTotals, leadsBySource, leadsPerDay, listLeads } from '../../src/modules/leads/service'
import { getContact } from '../../src/modules/contacts/service'
import { ENGINES, openEngine, type EngineFixture } from '../engine-fixture'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const firstPage = (limit = 50) => ({ page: 1, limit, afterSeq: null })

/** An enabled webhook endpoint of the workspace subscribed to `events` (all when empty); its id. */
async function addEndpoint(f: EngineFixture, workspaceId: string, events: string[] = []): Promise<string> {
  const id = `ep-${crypto.randomUUID()}`
  await f.exec(
    "INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, created_at, updated_at) VALUES (?, ?, 'http://127.0.0.1:1/', ?, 's', 1, 1)",
    id,
    workspaceId,
    JSON.stringify(events),
  )
  return id
}

for (const engine of ENGINES) {
  const skip = engine === 'postgres' && skipUnlessPg('leads store contract on PostgreSQL')

  describe.skipIf(skip)(`leads store contract on ${engine}`, () => {
    let fixture: EngineFixture
    beforeAll(async () => {
      fixture = await openEngine(engine)
    })
    afterAll(() => fixture?.close())
    const f = () => fixture
    /** Rows of a read-only query (integers CAST: PostgreSQL returns int8 as text). */
    const rows = async <T>(query: string) => (await fixture.exec(query)) as T[]
    test('a lead creates its contact; a second one with the same email merges into it', async () => {
      const { deps } = f()
      const ws = await f().workspace()
      const first = await createLead(deps, ws, 'inbound', { email: ' Jane@Example.com ', firstName: 'Jane', source: 'web', metadata: { a: 1, b: 1 } })
      f().clock.advance(1_000)
      const second = await createLead(deps, ws, 'capture', {
        email: 'jane@example.com',
        phone: '+1 555 0100',
        lastName: 'Doe',
        source: 'ads',
        metadata: { b: 2 },
        context: { ip: '127.0.0.1' },
      })
      expect(second.contactId).toBe(first.contactId)
      expect(second).toMatchObject({
        channel: 'capture',
        source: 'ads',
        email: 'jane@example.com',
        phone: '+15550100',
        status: 'new',
        context: { ip: '127.0.0.1' },
      })
      expect(await getLead(deps, ws, second.id)).toEqual(second)
      const contact = await getContact(deps, ws, first.contactId)
      expect(contact).toMatchObject({
        email: 'jane@example.com',
        phone: '+15550100',
        firstName: 'Jane',
        lastName: 'Doe',
        firstSource: 'web',
        lastSource: 'ads',
        leadCount: 2,
        metadata: { a: 1, b: 2 },
        seq: 1,
        sourceSeq: 1,
        updatedAt: f().clock.now(),
      })
      expect([first.seq, second.seq, first.sourceSeq, second.sourceSeq]).toEqual([1, 2, 1, 1])
    })

    test('a phone-only contact is found by phone, and gains the email a later lead brings', async () => {
      const { deps } = f()
      const ws = await f().workspace()
      const a = await createLead(deps, ws, 'inbound', { phone: '555-0101', source: 'api', metadata: {} })
      const b = await createLead(deps, ws, 'inbound', { phone: '5550101', source: 'api', metadata: {} })
      const c = await createLead(deps, ws, 'inbound', { email: 'p@example.com', phone: '555 0101', source: 'api', metadata: {} })
      expect(new Set([a.contactId, b.contactId, c.contactId]).size).toBe(1)
      expect(await getContact(deps, ws, a.contactId)).toMatchObject({ email: 'p@example.com', phone: '5550101', leadCount: 3 })
      // A new email with a phone of a contact that has an email already is another person.
      const d = await createLead(deps, ws, 'inbound', { email: 'q@example.com', phone: '5550101', source: 'api', metadata: {} })
      expect(d.contactId).not.toBe(a.contactId)
    })

    test('invalid input is refused before anything is stored', async () => {
      const ws = await f().workspace()
      const refused = createLead(f().deps, ws, 'inbound', { email: 'not-an-email', source: 'api', metadata: {} })
      await expect(refused).rejects.toBeInstanceOf(ApiError)
      expect((await leadTotals(f().deps, ws)).leads).toBe(0)
    })

    test('lead.created goes to the outbox with one delivery per subscribed endpoint, and wakes the dispatcher', async () => {
      const ws = await f().workspace()
      const all = await addEndpoint(f(), ws)
      await addEndpoint(f(), ws, ['deal.closed'])
      const woken = f().woken()
      const lead = await createLead(f().deps, ws, 'inbound', { email: 'e@example.com', source: 'api', metadata: { k: 'v' } })
      const events = await rows<{ id: string; type: string; payload: string }>(`SELECT id, type, payload FROM events WHERE workspace_id = '${ws}'`)
      expect(events.map((e) => e.type)).toEqual(['lead.created'])
      const payload = JSON.parse(events[0]!.payload)
      expect(payload).toMatchObject({
        id: events[0]!.id,
        type: 'lead.created',
        data: { lead: { id: lead.id, contact_id: lead.contactId, metadata: { k: 'v' } } },
      })
      const deliveries = await rows<{ endpoint_id: string; status: string }>(
        `SELECT endpoint_id, status FROM webhook_deliveries WHERE event_id = '${events[0]!.id}'`,
      )
      expect(deliveries).toEqual([{ endpoint_id: all, status: 'pending' }])
      expect(f().woken()).toBe(woken + 1)
    })

    test('a contact whose merged metadata passes 64 KB drops its oldest keys, and the lead logs them', async () => {
      const ws = await f().workspace()
      const logs: string[] = []
      const deps = { ...f().deps, logger: createLogger('info', (line) => logs.push(line)) }
      const big = (prefix: string) => Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`${prefix}${i}`, 'x'.repeat(9_000)]))
      let contactId = ''
      for (const prefix of ['a', 'b', 'c'])
        contactId = (await createLead(deps, ws, 'inbound', { email: 'm@example.com', source: 'api', metadata: big(prefix) })).contactId
      await createLead(deps, ws, 'inbound', { email: 'm@example.com', source: 'api', metadata: big('d') })
      const contact = await getContact(f().deps, ws, contactId)
      expect(Object.keys(contact.metadata)).not.toContain('a0')
      expect(Object.keys(contact.metadata)).toContain('d2')
      expect(logs.some((line) => line.includes('contact.metadata_trimmed') && line.includes('"a0"'))).toBe(true)
    })

    test('pages: newest first by seq, by source, by status and contact; figures from the kept counters', async () => {
      const ws = await f().workspace()
      const made = []
      for (let i = 0; i < 7; i++)
        made.push(await createLead(f().deps, ws, 'inbound', { email: `p${i % 3}@example.com`, source: i % 2 ? 'odd' : 'even', metadata: {} }))
      const page = await listLeads(f().deps, ws, {}, { page: 2, limit: 3, afterSeq: null })
      expect(page.data.map((l) => l.id)).toEqual([made[3]!.id, made[2]!.id, made[1]!.id])
      expect(page.pagination.total).toBe(7)
      const odd = await listLeads(f().deps, ws, { source: 'odd' }, firstPage())
      expect(odd.data.map((l) => l.id)).toEqual([made[5]!.id, made[3]!.id, made[1]!.id])
      expect(odd.pagination.total).toBe(3)
      const ofContact = await listLeads(f().deps, ws, { contactId: made[0]!.contactId }, firstPage())
      expect(ofContact.data.map((l) => l.id)).toEqual([made[6]!.id, made[3]!.id, made[0]!.id])
      const after = await listLeads(f().deps, ws, {}, { page: 1, limit: 2, afterSeq: made[4]!.seq })
      expect(after.data.map((l) => l.id)).toEqual([made[3]!.id, made[2]!.id])
      await expect(listLeads(f().deps, ws, { status: 'lost' }, firstPage())).rejects.toBeInstanceOf(ApiError)
      expect((await listLeads(f().deps, ws, { status: 'converted' }, firstPage())).data).toEqual([])
      expect(await leadTotals(f().deps, ws)).toEqual({ leads: 7, contacts: 3 })
      expect(await leadsBySource(f().deps, ws)).toEqual([
        { source: 'even', count: 4 },
        { source: 'odd', count: 3 },
      ])
      const days = await leadsPerDay(f().deps, ws, f().clock.now(), 3)
      expect(days.map((d) => d.count)).toEqual([0, 0, 7])
    })

    test('converting makes one deal and one lead.converted; converting again returns it unchanged', async () => {
      const ws = await f().workspace()
      const lead = await createLead(f().deps, ws, 'inbound', { email: 'c@example.com', firstName: 'Cy', source: 'api', metadata: {} })
      const first = await convertLead(f().deps, ws, lead.id, { value: '10.50' })
      expect(first.created).toBe(true)
      expect(first.deal).toMatchObject({ title: 'Cy', valueMinor: 1050, currency: 'USD', stage: 'new', contactId: lead.contactId, leadId: lead.id })
      expect(first.lead).toMatchObject({ status: 'converted', dealId: first.deal.id, convertedAt: f().clock.now() })
      const again = await convertLead(f().deps, ws, lead.id, { title: 'ignored', stage: 'won' })
      expect(again.created).toBe(false)
      expect(again.deal).toEqual(first.deal)
      const events = await rows<{ type: string }>(`SELECT type FROM events WHERE workspace_id = '${ws}' ORDER BY created_at, type`)
      expect(events.map((e) => e.type)).toEqual(['lead.converted', 'lead.created'])
      await expect(convertLead(f().deps, ws, 'no-such-lead', {})).rejects.toMatchObject({ status: 404 })
      const other = await f().workspace()
      await expect(convertLead(f().deps, other, lead.id, {})).rejects.toMatchObject({ status: 404 })
    })

    test('a conversion refused for its input changes nothing', async () => {
      const ws = await f().workspace()
      const lead = await createLead(f().deps, ws, 'inbound', { email: 'r@example.com', source: 'api', metadata: {} })
      await expect(convertLead(f().deps, ws, lead.id, { stage: 'done' })).rejects.toMatchObject({ status: 422 })
      expect((await getLead(f().deps, ws, lead.id)).status).toBe('new')
      const [{ n }] = await rows<{ n: number }>(`SELECT CAST(count(*) AS integer) AS n FROM deals WHERE workspace_id = '${ws}'`)
      expect(n).toBe(0)
    })
  })
}
