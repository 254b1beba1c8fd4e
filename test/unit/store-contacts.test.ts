/** The contacts store on both engines: detail with recent leads and deals, pages, and edits with the same refusals. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ApiError } from '../../src/errors'
import { getContact, getContactDetail, listContacts, updateContact } from '../../src/modules/contacts/service'
import { createDeal } from '../../src/modules/deals/service'
import { createLead } from '../../src/modules/leads/service'
import { ENGINES, openEngine, type EngineFixture } from '../engine-fixture'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const firstPage = { page: 1, limit: 50, afterSeq: null }

for (const engine of ENGINES) {
  const skip = engine === 'postgres' && skipUnlessPg('contacts store contract on PostgreSQL')

  describe.skipIf(skip)(`contacts store contract on ${engine}`, () => {
    let fixture: EngineFixture
    beforeAll(async () => {
      fixture = await openEngine(engine)
    })
    afterAll(() => fixture?.close())
    const f = () => fixture
    test('the detail carries the newest 5 leads and deals; another workspace gets a 404', async () => {
      const ws = await f().workspace()
      const leads = []
      for (let i = 0; i < 6; i++) {
        f().clock.advance(1)
        leads.push(await createLead(f().deps, ws, 'inbound', { email: 'd@example.com', source: 'api', metadata: {} }))
      }
      const contactId = leads[0]!.contactId
      for (let i = 0; i < 6; i++) {
        f().clock.advance(1)
        await createDeal(f().deps, ws, { title: `deal ${i}`, contactId })
      }
      const detail = await getContactDetail(f().deps, ws, contactId)
      expect(detail.recent_leads.map((l) => l.id)).toEqual(
        leads
          .slice(1)
          .reverse()
          .map((l) => l.id),
      )
      expect(detail.recent_deals.map((d) => d.title)).toEqual(['deal 5', 'deal 4', 'deal 3', 'deal 2', 'deal 1'])
      expect(detail.lead_count).toBe(6)
      const other = await f().workspace()
      await expect(getContactDetail(f().deps, other, contactId)).rejects.toMatchObject({ status: 404 })
    })

    test('pages by seq and first source; filters by email and updated_since', async () => {
      const ws = await f().workspace()
      const ids = []
      for (let i = 0; i < 5; i++) {
        f().clock.advance(1_000)
        ids.push((await createLead(f().deps, ws, 'inbound', { email: `p${i}@example.com`, source: i < 2 ? 'a' : 'b', metadata: {} })).contactId)
      }
      const page = await listContacts(f().deps, ws, {}, { page: 2, limit: 2, afterSeq: null })
      expect(page.data.map((c) => c.id)).toEqual([ids[2], ids[1]])
      expect(page.pagination.total).toBe(5)
      expect((await listContacts(f().deps, ws, { source: 'a' }, firstPage)).data.map((c) => c.id)).toEqual([ids[1], ids[0]])
      expect((await listContacts(f().deps, ws, { email: ' P3@example.com' }, firstPage)).data.map((c) => c.id)).toEqual([ids[3]])
      const since = new Date(f().clock.now() - 1_000).toISOString()
      expect((await listContacts(f().deps, ws, { updatedSince: since }, firstPage)).data.map((c) => c.id)).toEqual([ids[4], ids[3]])
      await expect(listContacts(f().deps, ws, { updatedSince: 'yesterday' }, firstPage)).rejects.toMatchObject({ status: 422 })
    })

    test('an edit changes the fields sent, merges metadata and keeps an email or a phone', async () => {
      const ws = await f().workspace()
      const { contactId } = await createLead(f().deps, ws, 'inbound', { email: 'e@example.com', firstName: 'E', source: 'api', metadata: { a: 1, b: 2 } })
      f().clock.advance(5)
      const edited = await updateContact(f().deps, ws, contactId, { lastName: ' Last ', phone: '+1 (555) 0199', metadata: { a: null, c: 3 } })
      expect(edited).toMatchObject({ firstName: 'E', lastName: 'Last', email: 'e@example.com', phone: '+15550199', metadata: { b: 2, c: 3 } })
      expect(edited.updatedAt).toBe(f().clock.now())
      expect(await getContact(f().deps, ws, contactId)).toEqual(edited)
      await expect(updateContact(f().deps, ws, contactId, { email: null, phone: '' })).rejects.toMatchObject({ status: 422 })
      const huge = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`k${i}`, 'x'.repeat(30_000)]))
      await expect(updateContact(f().deps, ws, contactId, { metadata: huge })).rejects.toMatchObject({ status: 422 })
      await expect(updateContact(f().deps, ws, 'nope', { firstName: 'x' })).rejects.toMatchObject({ status: 404 })
      expect(await getContact(f().deps, ws, contactId)).toEqual(edited)
    })

    test("another contact's email is a 409 naming /email; the same email in another workspace is fine", async () => {
      const ws = await f().workspace()
      const a = await createLead(f().deps, ws, 'inbound', { email: 'a@example.com', source: 'api', metadata: {} })
      const b = await createLead(f().deps, ws, 'inbound', { phone: '5550123', source: 'api', metadata: {} })
      const refused = await updateContact(f().deps, ws, b.contactId, { email: 'A@example.com' }).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(ApiError)
      expect(refused).toMatchObject({ status: 409, errors: [{ path: '/email', message: 'belongs to another contact' }] })
      expect((await updateContact(f().deps, ws, a.contactId, { email: 'a@example.com' })).email).toBe('a@example.com')
      const other = await f().workspace()
      const c = await createLead(f().deps, other, 'inbound', { phone: '5550123', source: 'api', metadata: {} })
      expect((await updateContact(f().deps, other, c.contactId, { email: 'a@example.com' })).email).toBe('a@example.com')
    })
  })
}
