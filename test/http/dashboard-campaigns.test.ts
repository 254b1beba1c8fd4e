/** The campaigns pages: list, create, edit, record spend, fired thresholds and their deliveries, through the campaigns service. */
import { afterAll, describe, expect, test } from 'bun:test'
import { dashboardSession } from '../dashboard-session'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
afterAll(() => h.close())

const campaignsOf = (workspaceId: string) => h.rows.all('campaigns', { workspaceId })

describe('campaigns pages', () => {
  test('create from the form: thresholds as a comma/space list, listed with spend against budget', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    expect(await s.page('/dashboard')).toContain(`href="${s.base}/campaigns"`)
    const res = await s.send('/dashboard/campaigns', { name: 'Spring ads', currency: 'usd', budget: '5000', spend_thresholds: '1000, 2500 4500.50,,' })
    expect(res.status).toBe(303)
    const [row] = await campaignsOf(ws.id)
    expect(row).toMatchObject({ name: 'Spring ads', currency: 'USD', budgetMinor: 500000, spendThresholdsMinor: [100000, 250000, 450050], spendMinor: 0 })
    expect(res.headers.get('location')).toBe(`${s.base}/campaigns/${row!.id}?done=campaign_created`)
    const list = await s.page('/dashboard/campaigns')
    expect(list).toContain(`href="${s.base}/campaigns/${row!.id}"`)
    expect(list).toContain('0.00 USD of 5,000.00 USD')
    expect(list).toContain('4500.5')
    expect(await s.page(res.headers.get('location')!)).toContain('Campaign created.')
  })

  test('bad input is a notice on the page with the form kept, and nothing is stored', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    const cases: [Record<string, string>, string][] = [
      [{ name: '', currency: 'USD' }, '/name'],
      [{ name: 'A', currency: 'dollars' }, '/currency'],
      [{ name: 'A', currency: 'USD', budget: 'lots' }, '/budget'],
      [{ name: 'A', currency: 'USD', spend_thresholds: '100 abc' }, '/spend_thresholds/1'],
      [{ name: 'A', currency: 'USD', spend_thresholds: '0' }, '/spend_thresholds/0'],
      [{ name: 'A', currency: 'USD', spend_thresholds: Array.from({ length: 101 }, (_, i) => i + 1).join(' ') }, '/spend_thresholds'],
      [{ name: 'x'.repeat(201), currency: 'USD' }, '/name'],
    ]
    for (const [fields, path] of cases) {
      const res = await s.send('/dashboard/campaigns', fields)
      expect(res.status).toBe(422)
      const text = await res.text()
      expect(text).toContain('class="notice error"')
      expect(text).toContain(path)
      expect(text).toContain(`value="${fields.name}"`)
    }
    expect(await campaignsOf(ws.id)).toHaveLength(0)
  })

  test('record spend: add and set the total; thresholds fire once, with when and their deliveries', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    const hook = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: 'http://127.0.0.1:9/hook', events: ['campaign.spend_threshold'] } })
    expect(hook.status).toBe(201)
    const endpointId = ((await hook.json()) as { id: string }).id
    await s.send('/dashboard/campaigns', { name: 'Search', currency: 'EUR', spend_thresholds: '100 200 300' })
    const [campaign] = await campaignsOf(ws.id)
    const base = s.at(`/dashboard/campaigns/${campaign!.id}`)

    const added = await s.send(`${base}/spend`, { mode: 'add', amount: '150' })
    expect(added.status).toBe(303)
    expect(added.headers.get('location')).toBe(`${base}?done=spend_recorded`)
    h.clock.advance(60_000)
    expect((await s.send(`${base}/spend`, { mode: 'total', amount: '250.5' })).status).toBe(303)
    const row = (await h.rows.find('campaigns', { id: campaign!.id }))!
    expect(row.spendMinor).toBe(25050)
    expect(row.thresholdCrossings.map((x) => x.threshold)).toEqual([10000, 20000])
    expect(row.thresholdCrossings[1]!.at - row.thresholdCrossings[0]!.at).toBe(60_000)

    const events = await h.rows.all('events', { workspaceId: ws.id, type: 'campaign.spend_threshold' })
    expect(events.map((e) => e.id).sort()).toEqual(row.thresholdCrossings.map((x) => x.eventId).sort())
    const page = await s.page(base)
    expect(page).toContain('250.50 EUR')
    expect(page).toMatch(/data-threshold="100">[\s\S]*?fired[\s\S]*?<time datetime="2026-11-01T12:00/)
    expect(page).toMatch(/data-threshold="300">[\s\S]*?not yet/)
    for (const x of row.thresholdCrossings) expect(page).toContain(x.eventId)
    const deliveries = await h.rows.all('webhookDeliveries', { endpointId })
    expect(deliveries).toHaveLength(2)
    for (const d of deliveries) expect(page).toContain(`data-delivery="${d.id}"`)
    expect(page).toContain(`href="${s.base}/settings/webhooks/${endpointId}"`)
  })

  test('spend refusals: a total below the spend (409), both empty, bad amount: notices, spend unchanged', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    await s.send('/dashboard/campaigns', { name: 'C', currency: 'USD', spend_thresholds: '50' })
    const [campaign] = await campaignsOf(ws.id)
    const base = s.at(`/dashboard/campaigns/${campaign!.id}`)
    await s.send(`${base}/spend`, { amount: '100' })
    const below = await s.send(`${base}/spend`, { mode: 'total', amount: '10' })
    expect(below.status).toBe(409)
    expect(await below.text()).toContain('spend only grows')
    for (const amount of ['', '-5', '1.234', 'ten', '0']) {
      const bad = await s.send(`${base}/spend`, { mode: 'add', amount })
      expect(bad.status).toBe(422)
      expect(await bad.text()).toContain('/amount')
    }
    expect((await h.rows.find('campaigns', { id: campaign!.id }))!.spendMinor).toBe(10000)
  })

  test('edit: name, budget (empty removes it) and thresholds; a new threshold under the spend fires now; bad edits change nothing', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    await s.send('/dashboard/campaigns', { name: 'Old', currency: 'USD', budget: '900', spend_thresholds: '500' })
    const [campaign] = await campaignsOf(ws.id)
    const base = s.at(`/dashboard/campaigns/${campaign!.id}`)
    await s.send(`${base}/spend`, { amount: '100' })
    expect(await s.page(base)).toContain(`action="${base}/edit"`)

    const bad = await s.send(`${base}/edit`, { name: 'New', budget: '12.345', spend_thresholds: '50' })
    expect(bad.status).toBe(422)
    const text = await bad.text()
    expect(text).toContain('/budget')
    expect(text).toContain('value="12.345"')
    expect(await h.rows.find('campaigns', { id: campaign!.id })).toMatchObject({ name: 'Old', budgetMinor: 90000, spendThresholdsMinor: [50000] })

    const ok = await s.send(`${base}/edit`, { name: 'New', budget: '', spend_thresholds: '50 500' })
    expect(ok.status).toBe(303)
    const row = (await h.rows.find('campaigns', { id: campaign!.id }))!
    expect(row).toMatchObject({ name: 'New', budgetMinor: null, spendThresholdsMinor: [5000, 50000], thresholdsCrossedMinor: [5000] })
    expect(row.thresholdCrossings.map((x) => x.threshold)).toEqual([5000])
    expect(await s.page(`${base}?done=campaign_saved`)).toContain('Campaign saved.')
  })

  test('scopes: campaigns:read sees no forms and cannot write; no campaigns scope is 403; deliveries need webhooks:manage', async () => {
    const ws = await h.workspace()
    const owner = await dashboardSession(h, ws.key)
    await owner.send('/dashboard/campaigns', { name: 'C', currency: 'USD', spend_thresholds: '1' })
    const [campaign] = await campaignsOf(ws.id)
    const base = owner.at(`/dashboard/campaigns/${campaign!.id}`)

    const reader = await dashboardSession(h, (await h.key(ws.id, { scopes: ['keys:manage', 'campaigns:read'] })).key)
    const page = await reader.page(base)
    expect(page).not.toContain('id="record-spend"')
    expect(page).not.toContain('id="edit-campaign"')
    expect(page).toContain('needs the <code>webhooks:manage</code> scope')
    expect(await reader.page('/dashboard/campaigns')).not.toContain('id="create-campaign"')
    for (const [path, fields] of [
      ['/dashboard/campaigns', { name: 'D', currency: 'USD' }],
      [`${base}/spend`, { amount: '5' }],
      [`${base}/edit`, { name: 'E' }],
    ] as const) {
      expect((await reader.send(path, fields)).status).toBe(403)
    }

    const none = await dashboardSession(h, (await h.key(ws.id, { scopes: ['keys:manage'] })).key)
    expect((await none.get('/dashboard/campaigns')).status).toBe(403)
    expect((await none.get(base)).status).toBe(403)
    expect(await campaignsOf(ws.id)).toHaveLength(1)
    expect((await h.rows.find('campaigns', { id: campaign!.id }))!).toMatchObject({ name: 'C', spendMinor: 0 })
  })

  test('CSRF: a post without the token is refused and changes nothing; another workspace’s campaign is 404', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    expect((await s.sendWithoutCsrf('/dashboard/campaigns', { name: 'C', currency: 'USD' })).status).toBe(403)
    expect(await campaignsOf(ws.id)).toHaveLength(0)

    const other = await h.workspace()
    const o = await dashboardSession(h, other.key)
    await o.send('/dashboard/campaigns', { name: 'Theirs', currency: 'USD' })
    const [theirs] = await campaignsOf(other.id)
    expect((await s.get(`/dashboard/campaigns/${theirs!.id}`)).status).toBe(404)
    expect((await s.send(`/dashboard/campaigns/${theirs!.id}/spend`, { amount: '5' })).status).toBe(404)
    expect((await s.send(`/dashboard/campaigns/${theirs!.id}/edit`, { name: 'Mine' })).status).toBe(404)
    expect((await h.rows.find('campaigns', { id: theirs!.id }))!).toMatchObject({ name: 'Theirs', spendMinor: 0 })
  })
})
