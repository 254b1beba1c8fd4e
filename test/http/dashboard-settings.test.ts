/** Settings pages: deleting a webhook endpoint, the payload in its delivery log, and a key's rate limit and expiry. */
import { afterAll, describe, expect, test } from 'bun:test'
import { dashboardSession } from '../dashboard-session'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ASKAD_RATE_LIMIT: '100/60s' } })
afterAll(() => h.close())

async function endpoint(key: string, events: string[] = []) {
  const res = await h.request('POST', '/api/v1/webhooks', { key, body: { url: 'http://127.0.0.1:9/hook', ...(events.length ? { events } : {}) } })
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}

/** The workspace's audit-log entries of one action, newest first, as the API lists them. */
async function auditLog(key: string, action: string): Promise<{ actor: unknown; target: unknown; details: Record<string, unknown> }[]> {
  const res = await h.request('GET', `/api/v1/audit-log?action=${action}`, { key })
  expect(res.status).toBe(200)
  return ((await res.json()) as { data: { actor: unknown; target: unknown; details: Record<string, unknown> }[] }).data
}

describe('webhook endpoints', () => {
  test('delete: needs the ticked confirmation (422, nothing deleted), then removes the endpoint and its deliveries', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    const id = await endpoint(ws.key)
    await h.pushLead(ws.key, { email: 'a@example.com' })
    const base = s.at(`/dashboard/settings/webhooks/${id}`)
    const page = await s.page(base)
    expect(page).toContain(`action="${base}/delete"`)
    expect(page).toContain('data-confirm="Delete http://127.0.0.1:9/hook')
    expect(page).toContain('name="confirm" value="yes" required')

    const unconfirmed = await s.send(`${base}/delete`)
    expect(unconfirmed.status).toBe(422)
    expect(await unconfirmed.text()).toContain('Tick the box to confirm')
    expect((await s.sendWithoutCsrf(`${base}/delete`, { confirm: 'yes' })).status).toBe(403)
    expect(await h.rows.find('webhookEndpoints', { id })).toBeDefined()
    expect(await h.rows.all('webhookDeliveries', { endpointId: id })).toHaveLength(1)

    const deleted = await s.send(`${base}/delete`, { confirm: 'yes' })
    expect(deleted.status).toBe(303)
    expect(deleted.headers.get('location')).toBe(`${s.base}/settings/webhooks?done=endpoint_deleted`)
    expect(await h.rows.find('webhookEndpoints', { id })).toBeUndefined()
    expect(await h.rows.all('webhookDeliveries', { endpointId: id })).toHaveLength(0)
    expect(await s.page('/dashboard/settings/webhooks?done=endpoint_deleted')).toContain('Endpoint deleted')
    const [entry] = await auditLog(ws.key, 'webhook.deleted')
    expect(entry).toMatchObject({ actor: { type: 'key', id: ws.keyId }, target: { type: 'webhook_endpoint', id } })
    expect((await s.send(`${base}/delete`, { confirm: 'yes' })).status).toBe(404)
  })

  test('delete needs webhooks:manage, and another workspace’s endpoint is 404', async () => {
    const ws = await h.workspace()
    const id = await endpoint(ws.key)
    const limited = await dashboardSession(h, (await h.key(ws.id, { scopes: ['keys:manage', 'leads:read'] })).key)
    expect((await limited.send(`/dashboard/settings/webhooks/${id}/delete`, { confirm: 'yes' })).status).toBe(403)
    const other = await dashboardSession(h, (await h.workspace()).key)
    expect((await other.send(`/dashboard/settings/webhooks/${id}/delete`, { confirm: 'yes' })).status).toBe(404)
    expect(await h.rows.find('webhookEndpoints', { id })).toBeDefined()
  })

  test('the delivery log shows the payload sent: the event body, pretty-printed, folded in a details', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    const id = await endpoint(ws.key, ['lead.created'])
    const lead = await h.pushLead(ws.key, { email: 'payload@example.com', first_name: '<b>Pat</b>' })
    const [event] = await h.rows.all('events', { workspaceId: ws.id, type: 'lead.created' })
    const page = await s.page(`/dashboard/settings/webhooks/${id}`)
    const details = /<details class="payload"><summary>Payload sent<\/summary><pre>([\s\S]*?)<\/pre><\/details>/.exec(page)![1]!
    const shown = details.replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&').replaceAll('&#39;', "'")
    expect(shown).toBe(JSON.stringify(JSON.parse(event!.payload), null, 2))
    expect(shown).toContain(`"id": "${lead.id}"`)
    expect(page).not.toContain('<b>Pat</b>')
  })
})

describe('API keys: rate limit and expiry', () => {
  test('set on the create form, stored as the API stores them, listed with each key', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    const form = await s.page('/dashboard/settings/api-keys')
    expect(form).toContain('name="rate_limit" type="number" min="1" max="100"')
    expect(form).toContain('name="expires_at" type="datetime-local"')
    expect(form).toContain('none ticked = all scopes of your key')
    expect(form).toContain('than the key you signed in with')
    const res = await s.send('/dashboard/settings/api-keys', { kind: 'secret', name: 'Limited', rate_limit: '30', expires_at: '2026-12-24T18:30' })
    expect(res.status).toBe(201)
    const row = (await h.rows.find('apiKeys', { name: 'Limited' }))!
    expect(row.rateLimit).toBe(30)
    expect(row.expiresAt).toBe(Date.parse('2026-12-24T18:30:00Z'))
    const [entry] = await auditLog(ws.key, 'key.created')
    expect(entry).toMatchObject({
      actor: { type: 'key', id: ws.keyId },
      target: { type: 'api_key', id: row.id },
      details: { name: 'Limited', rate_limit: 30, expires_at: '2026-12-24T18:30:00.000Z' },
    })
    expect((await s.send('/dashboard/settings/api-keys', { kind: 'secret', name: 'Plain', rate_limit: '', expires_at: '' })).status).toBe(201)
    expect(await h.rows.find('apiKeys', { name: 'Plain' })).toMatchObject({ rateLimit: null, expiresAt: null })

    const list = await s.page('/dashboard/settings/api-keys')
    const limitedRow = new RegExp(`data-key="${row.id}"[\\s\\S]*?</tr>`).exec(list)![0]
    expect(limitedRow).toContain('<td class="num">30</td>')
    expect(limitedRow).toContain('<time datetime="2026-12-24T18:30:00.000Z">2026-12-24 18:30</time>')
    expect(list).toContain('default (100)')
  })

  test('out of bounds, past, after the session key’s own expiry or not a time: the API’s messages as notices, nothing stored', async () => {
    const ws = await h.workspace(undefined, { expiresAt: Date.parse('2027-01-01T00:00:00Z') })
    const s = await dashboardSession(h, ws.key)
    expect(await s.page('/dashboard/settings/api-keys')).toContain('max="2027-01-01T00:00"')
    const before = (await h.rows.all('apiKeys', { workspaceId: ws.id })).length
    const cases: [Record<string, string>, string][] = [
      [{ rate_limit: '0' }, '/rate_limit'],
      [{ rate_limit: 'many' }, '/rate_limit'],
      [{ rate_limit: '2.5' }, '/rate_limit'],
      [{ rate_limit: '101' }, 'own limit of 100 requests'],
      [{ rate_limit: '100001' }, 'from 1 to 100000'],
      [{ expires_at: '2026-10-01T00:00' }, 'must be in the future'],
      [{ expires_at: '2027-06-01T00:00' }, 'own expiry, 2027-01-01'],
      [{ expires_at: 'soon' }, '/expires_at'],
    ]
    for (const [fields, message] of cases) {
      const res = await s.send('/dashboard/settings/api-keys', { kind: 'secret', name: 'Bad', ...fields })
      expect(res.status).toBe(422)
      const text = await res.text()
      expect(text).toContain('class="notice error"')
      expect(text).toContain(message)
      expect(text).not.toContain('id="new-key"')
    }
    expect(await h.rows.all('apiKeys', { workspaceId: ws.id })).toHaveLength(before)
    expect(await auditLog(ws.key, 'key.created')).toHaveLength(before)
    // Left empty, the expiry is the session key's, as the API does.
    expect((await s.send('/dashboard/settings/api-keys', { kind: 'secret', name: 'Inherits' })).status).toBe(201)
    expect((await h.rows.find('apiKeys', { name: 'Inherits' }))!.expiresAt).toBe(Date.parse('2027-01-01T00:00:00Z'))
  })
})
