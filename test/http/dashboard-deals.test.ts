/** The deals pages (create, edit, the board with its totals) and converting a lead, through the deals and leads services. */
import { afterAll, describe, expect, test } from 'bun:test'
import { dashboardSession } from '../dashboard-session'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

const dealsOf = (workspaceId: string) => h.rows.all('deals', { workspaceId })
const closedEvents = (workspaceId: string) => h.rows.all('events', { workspaceId, type: 'deal.closed' })

describe('deals pages', () => {
  test('create: with or without a contact, defaults as the API; bad input is a notice and nothing is stored', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    const lead = await h.pushLead(ws.key, { email: 'ann@example.com', first_name: 'Ann' })
    expect(await s.page('/dashboard/deals')).toContain(`href="${s.base}/deals/new"`)
    const contactPage = await s.page(`/dashboard/contacts/${lead.contact_id}`)
    expect(contactPage).toContain(`href="${s.base}/deals/new?contact=${lead.contact_id}"`)
    expect(await s.page(`/dashboard/deals/new?contact=${lead.contact_id}`)).toContain(`name="contact_id" value="${lead.contact_id}"`)

    const bad: [Record<string, string>, string][] = [
      [{ title: '' }, '/title'],
      [{ title: 'T', value: '1.234' }, '/value'],
      [{ title: 'T', currency: 'euro' }, '/currency'],
      [{ title: 'T', stage: 'maybe' }, '/stage'],
      [{ title: 'T', contact_id: 'no-such-contact' }, '/contact_id'],
      [{ title: 'x'.repeat(201) }, '/title'],
    ]
    for (const [fields, path] of bad) {
      const res = await s.send('/dashboard/deals', fields)
      expect(res.status).toBe(422)
      const text = await res.text()
      expect(text).toContain('class="notice error"')
      expect(text).toContain(path)
    }
    expect(await dealsOf(ws.id)).toHaveLength(0)

    const plain = await s.send('/dashboard/deals', { title: 'Plain', value: '', currency: '', stage: 'new' })
    expect(plain.status).toBe(303)
    const withContact = await s.send('/dashboard/deals', { title: 'Redesign', value: '4999.99', currency: 'eur', stage: 'won', contact_id: lead.contact_id })
    expect(withContact.status).toBe(303)
    const deals = await dealsOf(ws.id)
    expect(deals.find((d) => d.title === 'Plain')).toMatchObject({ valueMinor: 0, currency: 'USD', stage: 'new', contactId: null })
    const won = deals.find((d) => d.title === 'Redesign')!
    expect(won).toMatchObject({ valueMinor: 499999, currency: 'EUR', stage: 'won', contactId: lead.contact_id })
    expect(withContact.headers.get('location')).toBe(`${s.base}/deals/${won.id}?done=deal_created`)
    expect(await closedEvents(ws.id)).toHaveLength(1)
  })

  test('edit: title, value, currency, stage as a PATCH; won emits deal.closed once; bad edits change nothing', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    await s.send('/dashboard/deals', { title: 'Deal', value: '100', stage: 'proposal' })
    const [deal] = await dealsOf(ws.id)
    const base = s.at(`/dashboard/deals/${deal!.id}`)
    expect(await s.page(base)).toContain(`action="${base}/edit"`)

    const bad = await s.send(`${base}/edit`, { title: 'Changed', value: 'lots', currency: 'USD', stage: 'won' })
    expect(bad.status).toBe(422)
    const text = await bad.text()
    expect(text).toContain('/value')
    expect(text).toContain('value="Changed"')
    expect((await h.rows.find('deals', { id: deal!.id }))!).toMatchObject({ title: 'Deal', valueMinor: 10000, stage: 'proposal' })

    const ok = await s.send(`${base}/edit`, { title: 'Bigger deal', value: '250.5', currency: 'GBP', stage: 'won' })
    expect(ok.status).toBe(303)
    expect(ok.headers.get('location')).toBe(`${base}?done=deal_saved`)
    expect((await h.rows.find('deals', { id: deal!.id }))!).toMatchObject({ title: 'Bigger deal', valueMinor: 25050, currency: 'GBP', stage: 'won' })
    expect(await s.send(`${base}/edit`, { title: 'Bigger deal', value: '', currency: '', stage: 'won' })).toHaveProperty('status', 303)
    expect((await h.rows.find('deals', { id: deal!.id }))!).toMatchObject({ valueMinor: 25050, currency: 'GBP' })
    expect(await closedEvents(ws.id)).toHaveLength(1)
  })

  test('the board: one column per stage with its exact count and value per currency; moving to won closes once', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    for (const [title, value, currency, stage] of [
      ['A', '100', 'USD', 'new'],
      ['B', '50.25', 'USD', 'new'],
      ['C', '10', 'EUR', 'new'],
      ['D', '7', 'USD', 'proposal'],
    ]) {
      expect((await s.send('/dashboard/deals', { title: title!, value: value!, currency: currency!, stage: stage! })).status).toBe(303)
    }
    const board = await s.page('/dashboard/deals')
    const column = (stage: string) => new RegExp(`data-stage="${stage}"[\\s\\S]*?</section>`).exec(board)![0]
    expect(column('new')).toContain('<span class="count">3</span>')
    expect(column('new')).toContain('<span data-currency="EUR">10.00 EUR</span>')
    expect(column('new')).toContain('<span data-currency="USD">150.25 USD</span>')
    expect(column('proposal')).toContain('7.00 USD')
    expect(column('won')).toContain('<span class="muted">–</span>')
    expect(board).toContain('draggable="true"')

    const d = (await dealsOf(ws.id)).find((x) => x.title === 'D')!
    expect((await s.send(`/dashboard/deals/${d.id}/stage`, { stage: 'won' }, { 'x-csrf-token': s.csrf })).status).toBe(303)
    expect((await s.send(`/dashboard/deals/${d.id}/stage`, { stage: 'won' })).status).toBe(303)
    expect(await closedEvents(ws.id)).toHaveLength(1)
    const after = await s.page('/dashboard/deals?done=moved')
    expect(/data-stage="won"[\s\S]*?<\/section>/.exec(after)![0]).toContain('7.00 USD')
  })

  test('scopes: deals:read sees the board without forms and cannot create or edit; no deals scope is 403', async () => {
    const ws = await h.workspace()
    const owner = await dashboardSession(h, ws.key)
    await owner.send('/dashboard/deals', { title: 'Mine', value: '1' })
    const [deal] = await dealsOf(ws.id)

    const reader = await dashboardSession(h, (await h.key(ws.id, { scopes: ['keys:manage', 'deals:read'] })).key)
    const board = await reader.page('/dashboard/deals')
    expect(board).toContain('Mine')
    expect(board).not.toContain('draggable="true"')
    expect(board).not.toContain('/deals/new')
    expect(await reader.page(`/dashboard/deals/${deal!.id}`)).not.toContain('id="edit-deal"')
    expect((await reader.get('/dashboard/deals/new')).status).toBe(403)
    expect((await reader.send('/dashboard/deals', { title: 'Theirs' })).status).toBe(403)
    expect((await reader.send(`/dashboard/deals/${deal!.id}/edit`, { title: 'Renamed' })).status).toBe(403)
    expect((await reader.send(`/dashboard/deals/${deal!.id}/stage`, { stage: 'won' })).status).toBe(403)

    const none = await dashboardSession(h, (await h.key(ws.id, { scopes: ['keys:manage'] })).key)
    expect((await none.get(`/dashboard/deals/${deal!.id}`)).status).toBe(403)
    expect(await dealsOf(ws.id)).toHaveLength(1)
    expect((await h.rows.find('deals', { id: deal!.id }))!).toMatchObject({ title: 'Mine', stage: 'new' })
  })

  test('CSRF and workspaces: posts without the token are refused; another workspace’s deal is 404', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    expect((await s.sendWithoutCsrf('/dashboard/deals', { title: 'X' })).status).toBe(403)
    expect(await dealsOf(ws.id)).toHaveLength(0)
    const other = await h.workspace()
    const o = await dashboardSession(h, other.key)
    await o.send('/dashboard/deals', { title: 'Theirs' })
    const [theirs] = await dealsOf(other.id)
    expect((await s.get(`/dashboard/deals/${theirs!.id}`)).status).toBe(404)
    expect((await s.send(`/dashboard/deals/${theirs!.id}/edit`, { title: 'Mine' })).status).toBe(404)
    expect((await o.sendWithoutCsrf(`/dashboard/deals/${theirs!.id}/edit`, { title: 'Mine' })).status).toBe(403)
    expect((await h.rows.find('deals', { id: theirs!.id }))!.title).toBe('Theirs')
  })
})

describe('converting a lead', () => {
  test('Convert on unconverted leads (leads list and contact page) opens a form with the name as title; converted leads link their deal', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    const lead = await h.pushLead(ws.key, { email: 'jane@example.com', first_name: 'Jane', last_name: 'Smith' })
    const convert = s.at(`/dashboard/leads/${lead.id}/convert`)
    expect(await s.page('/dashboard/leads')).toContain(`href="${convert}"`)
    expect(await s.page(`/dashboard/contacts/${lead.contact_id}`)).toContain(`href="${convert}"`)
    const form = await s.page(convert)
    expect(form).toContain('name="title" value="Jane Smith"')

    const bad = await s.send(convert, { title: 'Jane Smith', value: '-1', currency: 'USD', stage: 'new' })
    expect(bad.status).toBe(422)
    expect(await bad.text()).toContain('/value')
    expect((await h.rows.find('leads', { id: lead.id }))!.status).toBe('new')
    expect(await dealsOf(ws.id)).toHaveLength(0)

    const ok = await s.send(convert, { title: 'Jane — annual', value: '1200', currency: 'eur', stage: 'qualified' })
    expect(ok.status).toBe(303)
    const [deal] = await dealsOf(ws.id)
    expect(deal).toMatchObject({ title: 'Jane — annual', valueMinor: 120000, currency: 'EUR', stage: 'qualified', leadId: lead.id, contactId: lead.contact_id })
    expect(ok.headers.get('location')).toBe(`${s.base}/deals/${deal!.id}?done=converted`)
    expect((await h.rows.find('leads', { id: lead.id }))!).toMatchObject({ status: 'converted', dealId: deal!.id })
    expect(await h.rows.all('events', { workspaceId: ws.id, type: 'lead.converted' })).toHaveLength(1)

    const list = await s.page('/dashboard/leads')
    expect(list).not.toContain(`href="${convert}"`)
    expect(list).toContain(`href="${s.base}/deals/${deal!.id}"`)
    expect(await s.page(convert)).toContain(`href="${s.base}/deals/${deal!.id}"`)
    // Converting again changes nothing, as the API's retry does.
    expect((await s.send(convert, { title: 'Again', value: '5' })).status).toBe(303)
    expect(await dealsOf(ws.id)).toHaveLength(1)
  })

  test('an empty title takes the service default; leads:write is needed; unknown leads are 404', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    const lead = await h.pushLead(ws.key, { email: 'solo@example.com' })
    const reader = await dashboardSession(h, (await h.key(ws.id, { scopes: ['keys:manage', 'leads:read', 'contacts:read'] })).key)
    expect(await reader.page('/dashboard/leads')).not.toContain('/convert')
    expect((await reader.get(`/dashboard/leads/${lead.id}/convert`)).status).toBe(403)
    expect((await reader.send(`/dashboard/leads/${lead.id}/convert`, { title: 'X' })).status).toBe(403)
    expect((await s.sendWithoutCsrf(`/dashboard/leads/${lead.id}/convert`, { title: 'X' })).status).toBe(403)
    expect((await s.get('/dashboard/leads/nope/convert')).status).toBe(404)
    expect((await s.send('/dashboard/leads/nope/convert', { title: 'X' })).status).toBe(404)
    expect(await dealsOf(ws.id)).toHaveLength(0)

    expect((await s.send(`/dashboard/leads/${lead.id}/convert`, { title: '  ', value: '', currency: '', stage: 'new' })).status).toBe(303)
    expect((await dealsOf(ws.id))[0]).toMatchObject({ title: 'solo@example.com', valueMinor: 0, currency: 'USD' })
  })
})
