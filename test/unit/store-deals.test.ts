/** The deals store on both engines: creation with a checked contact, edits that close once, pages. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createDeal, getDeal, listDeals, updateDeal } from '../../src/modules/deals/service'
import { parsePageQuery } from '../../src/lib/pagination'
import { createLead } from '../../src/modules/leads/service'
import { ENGINES, openEngine, type EngineFixture } from '../engine-fixture'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const firstPage = { page: 1, limit: 50, afterSeq: null }

for (const engine of ENGINES) {
  const skip = engine === 'postgres' && skipUnlessPg('deals store contract on PostgreSQL')

  describe.skipIf(skip)(`deals store contract on ${engine}`, () => {
    let fixture: EngineFixture
    beforeAll(async () => {
      fixture = await openEngine(engine)
    })
    afterAll(() => fixture?.close())
    const f = () => fixture
    /** Rows of a read-only query (integers CAST: PostgreSQL returns int8 as text). */
    const rows = async <T>(query: string) => (await fixture.exec(query)) as T[]
    const closedEvents = async (ws: string) =>
      (await rows<{ payload: string }>(`SELECT payload FROM events WHERE workspace_id = '${ws}' AND type = 'deal.closed'`)).map(
        (e) => JSON.parse(e.payload).data,
      )

    test('a deal is created with defaults, or closed with deal.closed; a foreign contact is a 422', async () => {
      const ws = await f().workspace()
      const plain = await createDeal(f().deps, ws, { title: ' Plain ' })
      expect(plain).toMatchObject({ title: 'Plain', valueMinor: 0, currency: 'USD', stage: 'new', contactId: null, closedAt: null, metadata: {} })
      expect(await getDeal(f().deps, ws, plain.id)).toEqual(plain)
      const { contactId } = await createLead(f().deps, ws, 'inbound', { email: 'x@example.com', source: 'api', metadata: {} })
      const won = await createDeal(f().deps, ws, { title: 'Won', value: 12.34, currency: 'EUR', stage: 'won', contactId, metadata: { a: 1 } })
      expect(won).toMatchObject({ valueMinor: 1234, currency: 'EUR', stage: 'won', contactId, closedAt: f().clock.now() })
      expect(await closedEvents(ws)).toEqual([{ deal: expect.objectContaining({ id: won.id, value: 12.34 }), previous_stage: null }])
      const other = await f().workspace()
      await expect(createDeal(f().deps, other, { title: 'Theirs', contactId })).rejects.toMatchObject({ status: 422, errors: [{ path: '/contact_id' }] })
      await expect(getDeal(f().deps, other, won.id)).rejects.toMatchObject({ status: 404 })
    })

    test('moving to won closes once; reopening and closing again emits again', async () => {
      const ws = await f().workspace()
      const deal = await createDeal(f().deps, ws, { title: 'D', metadata: { keep: 1, drop: 2 } })
      f().clock.advance(10)
      const won = await updateDeal(f().deps, ws, deal.id, { stage: 'won', value: '5', metadata: { drop: null } })
      expect(won).toMatchObject({ stage: 'won', valueMinor: 500, closedAt: f().clock.now(), metadata: { keep: 1 }, updatedAt: f().clock.now() })
      await updateDeal(f().deps, ws, deal.id, { stage: 'won' })
      expect((await closedEvents(ws)).map((e) => e.previous_stage)).toEqual(['new'])
      const reopened = await updateDeal(f().deps, ws, deal.id, { stage: 'negotiation' })
      expect(reopened.closedAt).toBeNull()
      await updateDeal(f().deps, ws, deal.id, { stage: 'lost' })
      expect((await closedEvents(ws)).map((e) => e.previous_stage)).toEqual(['new', 'negotiation'])
      await expect(updateDeal(f().deps, ws, deal.id, { stage: 'gone' })).rejects.toMatchObject({ status: 422 })
      await expect(updateDeal(f().deps, ws, 'nope', { title: 'x' })).rejects.toMatchObject({ status: 404 })
    })

    test('a contact is linked, checked and unlinked; a refused edit changes nothing', async () => {
      const ws = await f().workspace()
      const { contactId } = await createLead(f().deps, ws, 'inbound', { email: 'y@example.com', source: 'api', metadata: {} })
      const deal = await createDeal(f().deps, ws, { title: 'D' })
      expect((await updateDeal(f().deps, ws, deal.id, { contactId })).contactId).toBe(contactId)
      await expect(updateDeal(f().deps, ws, deal.id, { contactId: 'nobody', stage: 'won' })).rejects.toMatchObject({ status: 422 })
      expect(await closedEvents(ws)).toEqual([])
      expect((await getDeal(f().deps, ws, deal.id)).stage).toBe('new')
      expect((await updateDeal(f().deps, ws, deal.id, { contactId: null })).contactId).toBeNull()
    })

    test('pages newest first with a cursor, by stage and by contact', async () => {
      const ws = await f().workspace()
      const { contactId } = await createLead(f().deps, ws, 'inbound', { email: 'z@example.com', source: 'api', metadata: {} })
      const made = []
      for (let i = 0; i < 5; i++)
        made.push(await createDeal(f().deps, ws, { title: `d${i}`, stage: i % 2 ? 'won' : 'new', contactId: i < 2 ? contactId : null }))
      const page = await listDeals(f().deps, ws, {}, { page: 1, limit: 2, afterSeq: null })
      expect(page.data.map((d) => d.title)).toEqual(['d4', 'd3'])
      expect(page.pagination).toMatchObject({ total: 5, has_more: true })
      const cursor = page.pagination.next_cursor
      expect(cursor).toBeTruthy()
      const next = await listDeals(f().deps, ws, {}, parsePageQuery({ limit: '2', after: cursor! }))
      expect(next.data.map((d) => d.title)).toEqual(['d2', 'd1'])
      expect((await listDeals(f().deps, ws, { stage: 'won' }, firstPage)).data.map((d) => d.title)).toEqual(['d3', 'd1'])
      expect((await listDeals(f().deps, ws, { contactId }, firstPage)).data.map((d) => d.title)).toEqual(['d1', 'd0'])
      await expect(listDeals(f().deps, ws, { stage: 'open' }, firstPage)).rejects.toMatchObject({ status: 422 })
      expect(made).toHaveLength(5)
    })
  })
}
