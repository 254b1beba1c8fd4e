/** The outbox rows behind lead.converted and deal.closed: written once, in the transaction of the change. */
import { afterAll, describe, expect, test } from 'bun:test'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

// The endpoints below point at a closed local port: nothing is sent, the SSRF guard only lets them be saved.
const h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
afterAll(() => h.close())

type Event = { id: string; type: string; timestamp: string; data: Record<string, any> }

/** Payloads of a workspace's events of one type, oldest first (ids are time-ordered within one process). */
async function eventsOf(workspaceId: string, type: string): Promise<Event[]> {
  return (await h.rows.all('events', { workspaceId, type }))
    .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
    .map((e) => JSON.parse(e.payload))
}

function pushLead(key: string, email: string): Promise<{ id: string; contact_id: string }> {
  return h.pushLead(key, { email, first_name: 'Eve' })
}

async function patchDeal(key: string, id: string, body: Record<string, unknown>) {
  const res = await h.request('PATCH', `/api/v1/deals/${id}`, { key, body })
  expect(res.status).toBe(200)
  return res.json()
}

describe('lead.converted', () => {
  test('converting twice makes one deal and one event carrying the lead and the deal', async () => {
    const ws = await h.workspace()
    const lead = await pushLead(ws.key, 'eve@example.com')
    const first = await (await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key, body: { value: 42.5 } })).json()
    const second = await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key })
    expect(second.status).toBe(200)
    expect((await second.json()).deal.id).toBe(first.deal.id)

    const converted = await eventsOf(ws.id, 'lead.converted')
    expect(converted).toHaveLength(1)
    expect(converted[0]!.id).toMatch(/^msg_/)
    expect(converted[0]!.data.lead).toMatchObject({ id: lead.id, status: 'converted', deal_id: first.deal.id })
    expect(converted[0]!.data.deal).toEqual(first.deal)
    const deals = await (await h.request('GET', '/api/v1/deals', { key: ws.key })).json()
    expect(deals.pagination.total).toBe(1)
    expect(await eventsOf(ws.id, 'deal.closed')).toHaveLength(0)
  })

  test('concurrent conversions of one lead: one 201, the rest 200, one deal, one event', async () => {
    const ws = await h.workspace()
    const lead = await pushLead(ws.key, 'race@example.com')
    const responses = await Promise.all(Array.from({ length: 8 }, () => h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key })))
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201])
    const dealIds = new Set(await Promise.all(responses.map(async (r) => (await r.json()).deal.id)))
    expect(dealIds.size).toBe(1)
    expect(await eventsOf(ws.id, 'lead.converted')).toHaveLength(1)
  })

  test('converting straight to won also closes the deal', async () => {
    const ws = await h.workspace()
    const lead = await pushLead(ws.key, 'won@example.com')
    const { deal } = await (await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key, body: { stage: 'won' } })).json()
    expect(await eventsOf(ws.id, 'lead.converted')).toHaveLength(1)
    const closed = await eventsOf(ws.id, 'deal.closed')
    expect(closed).toHaveLength(1)
    expect(closed[0]!.data).toEqual({ deal, previous_stage: null })
  })

  test('a refused conversion writes no event', async () => {
    const ws = await h.workspace()
    const lead = await pushLead(ws.key, 'bad@example.com')
    expect((await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: ws.key, body: { stage: 'done' } })).status).toBe(422)
    expect((await h.request('POST', `/api/v1/leads/${lead.id}/convert`, { key: (await h.workspace()).key })).status).toBe(404)
    expect(await eventsOf(ws.id, 'lead.converted')).toHaveLength(0)
  })
})

describe('deal.closed', () => {
  test('moving a deal to won twice emits once', async () => {
    const ws = await h.workspace()
    const deal = await (await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'Big one', value: 1000 } })).json()
    expect(await eventsOf(ws.id, 'deal.closed')).toHaveLength(0)
    const won = await patchDeal(ws.key, deal.id, { stage: 'won' })
    await patchDeal(ws.key, deal.id, { stage: 'won' })
    await patchDeal(ws.key, deal.id, { title: 'Big one (signed)' })
    const closed = await eventsOf(ws.id, 'deal.closed')
    expect(closed).toHaveLength(1)
    expect(closed[0]!.data).toEqual({ deal: won, previous_stage: 'new' })
  })

  test('concurrent moves to won emit once', async () => {
    const ws = await h.workspace()
    const deal = await (await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'Race', stage: 'negotiation' } })).json()
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => h.request('PATCH', `/api/v1/deals/${deal.id}`, { key: ws.key, body: { stage: 'won' } })),
    )
    expect(responses.every((r) => r.status === 200)).toBe(true)
    expect(await eventsOf(ws.id, 'deal.closed')).toHaveLength(1)
  })

  test('a reopened deal closes again: won → negotiation → won emits twice; won → lost is a new outcome', async () => {
    const ws = await h.workspace()
    const deal = await (await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'Back and forth' } })).json()
    await patchDeal(ws.key, deal.id, { stage: 'won' })
    await patchDeal(ws.key, deal.id, { stage: 'negotiation' })
    expect(await eventsOf(ws.id, 'deal.closed')).toHaveLength(1)
    await patchDeal(ws.key, deal.id, { stage: 'won' })
    await patchDeal(ws.key, deal.id, { stage: 'lost' })
    const closed = await eventsOf(ws.id, 'deal.closed')
    expect(closed.map((e) => [e.data.previous_stage, e.data.deal.stage])).toEqual([
      ['new', 'won'],
      ['negotiation', 'won'],
      ['won', 'lost'],
    ])
  })

  test('creating a deal as won or lost emits; open stages do not', async () => {
    const ws = await h.workspace()
    for (const stage of ['new', 'qualified', 'proposal', 'negotiation', 'won', 'lost']) {
      expect((await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: stage, stage } })).status).toBe(201)
    }
    expect((await eventsOf(ws.id, 'deal.closed')).map((e) => e.data.deal.stage)).toEqual(['won', 'lost'])
  })

  test('a refused change writes no event', async () => {
    const ws = await h.workspace()
    const deal = await (await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'Careful' } })).json()
    expect((await h.request('PATCH', `/api/v1/deals/${deal.id}`, { key: ws.key, body: { stage: 'won', value: 1.234 } })).status).toBe(422)
    expect((await h.request('PATCH', `/api/v1/deals/${deal.id}`, { key: ws.key, body: { stage: 'won', contact_id: crypto.randomUUID() } })).status).toBe(422)
    expect((await h.request('PATCH', `/api/v1/deals/${deal.id}`, { key: (await h.workspace()).key, body: { stage: 'won' } })).status).toBe(404)
    expect((await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'x', stage: 'won', currency: 'usd' } })).status).toBe(422)
    expect(await eventsOf(ws.id, 'deal.closed')).toHaveLength(0)
  })
})

describe('deliveries', () => {
  test('a subscribed endpoint gets its delivery in the same commit, and the dispatcher is woken after it', async () => {
    const ws = await h.workspace()
    for (const events of [['deal.closed'], ['lead.created']])
      expect((await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: 'http://127.0.0.1:9/hook', events } })).status).toBe(201)
    let wakes = 0
    const originalWake = h.deps.wake
    h.deps.wake = () => void wakes++
    try {
      const deal = await (await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'Hooked' } })).json()
      expect(wakes).toBe(0)
      await patchDeal(ws.key, deal.id, { stage: 'lost' })
      expect(wakes).toBe(1)
      const [closed] = await eventsOf(ws.id, 'deal.closed')
      const deliveries = await h.rows.all('webhookDeliveries', { eventId: closed!.id })
      expect(deliveries).toHaveLength(1)
      expect(deliveries[0]!.status).toBe('pending')
    } finally {
      h.deps.wake = originalWake
    }
  })
})
