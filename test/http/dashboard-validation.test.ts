/** Dashboard forms go through the API's own TypeBox models: what the API refuses, the dashboard refuses too, shown on the page. */
import { afterAll, describe, expect, test } from 'bun:test'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ORIGIN = 'http://localhost'
const h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
afterAll(() => h.close())

function form(fields: Record<string, string | string[]>) {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) params.append(k, one)
  return params
}

async function signIn(key: string) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN }
  const res = await h.request('POST', '/dashboard/sign-in', { rawBody: form({ key, next: '/dashboard' }), headers })
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!
  // Workspace pages live under /dashboard/w/<slug>, where /dashboard redirects.
  const base = (await h.request('GET', '/dashboard', { headers: { cookie } })).headers.get('location')!
  const at = (path: string) => `${base}${path.replace(/^\/dashboard/, '')}`
  const home = await (await h.request('GET', base, { headers: { cookie } })).text()
  const csrf = /name="_csrf" value="([^"]+)"/.exec(home)![1]!
  const send = (path: string, fields: Record<string, string | string[]> = {}) =>
    h.request('POST', at(path), { rawBody: form({ _csrf: csrf, ...fields }), headers: { ...headers, cookie } })
  const page = async (path: string) => (await h.request('GET', at(path), { headers: { cookie } })).text()
  return { send, page, at, cookie }
}

const endpointsOf = (workspaceId: string) => h.rows.all('webhookEndpoints', { workspaceId })

describe('webhook forms', () => {
  test('create: a 200 KB description and an unknown event are 422 on the page, and nothing is stored', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    const long = await s.send('/dashboard/settings/webhooks', { url: 'http://127.0.0.1:9/hook', description: 'x'.repeat(200 * 1024) })
    expect(long.status).toBe(422)
    expect(long.headers.get('content-type')).toContain('text/html')
    expect(await long.text()).toContain('/description')
    const bogus = await s.send('/dashboard/settings/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['lead.created', 'bogus.event'] })
    expect(bogus.status).toBe(422)
    expect(await bogus.text()).toContain('/events/1')
    expect(await endpointsOf(ws.id)).toHaveLength(0)
    expect((await s.send('/dashboard/settings/webhooks', { url: 'http://127.0.0.1:9/hook', description: 'CRM', events: ['lead.created'] })).status).toBe(201)
  })

  test('edit: url, description and events change through the same model; bad values are 422 on the page', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    expect((await s.send('/dashboard/settings/webhooks', { url: 'http://127.0.0.1:9/hook' })).status).toBe(201)
    const [endpoint] = await endpointsOf(ws.id)
    const base = `/dashboard/settings/webhooks/${endpoint!.id}`
    expect(await s.page(base)).toContain(`action="${s.at(base)}/edit"`)

    const bad = await s.send(`${base}/edit`, { url: 'http://127.0.0.1:9/hook', description: 'y'.repeat(501), events: ['bogus.event'] })
    expect(bad.status).toBe(422)
    const text = await bad.text()
    expect(text).toContain('/description')
    expect(text).toContain('/events/0')
    expect((await endpointsOf(ws.id))[0]!.description).toBe('')

    const ok = await s.send(`${base}/edit`, { url: 'http://127.0.0.1:9/v2', description: 'Sales', events: ['deal.closed'] })
    expect(ok.status).toBe(303)
    expect(ok.headers.get('location')).toBe(`${s.at(base)}?done=saved`)
    expect((await endpointsOf(ws.id))[0]).toMatchObject({ url: 'http://127.0.0.1:9/v2', description: 'Sales', events: ['deal.closed'] })
  })

  test('attempts at once: set on create, shown and changed on the edit form, left as is when empty; out of bounds is 422', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    expect((await s.send('/dashboard/settings/webhooks', { url: 'http://127.0.0.1:9/hook', max_in_flight: '30' })).status).toBe(201)
    const [endpoint] = await endpointsOf(ws.id)
    expect(endpoint!.maxInFlight).toBe(30)
    const base = `/dashboard/settings/webhooks/${endpoint!.id}`
    expect(await s.page(base)).toContain('name="max_in_flight" type="number" min="1" max="100" value="30"')

    for (const value of ['0', '101', 'many']) {
      const bad = await s.send(`${base}/edit`, { url: 'http://127.0.0.1:9/hook', max_in_flight: value })
      expect(bad.status).toBe(422)
      expect(await bad.text()).toContain('/max_in_flight')
    }
    expect((await s.send(`${base}/edit`, { url: 'http://127.0.0.1:9/hook', max_in_flight: '' })).status).toBe(303)
    expect((await endpointsOf(ws.id))[0]!.maxInFlight).toBe(30)
    expect((await s.send(`${base}/edit`, { url: 'http://127.0.0.1:9/hook', max_in_flight: '4' })).status).toBe(303)
    expect((await endpointsOf(ws.id))[0]!.maxInFlight).toBe(4)
  })
})

describe('key form', () => {
  test('an over-long name or an unknown scope is 422 on the page, and no key is minted', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    const before = await h.rows.count('apiKeys', { workspaceId: ws.id })
    const long = await s.send('/dashboard/settings/api-keys', { kind: 'secret', name: 'n'.repeat(201) })
    expect(long.status).toBe(422)
    expect(await long.text()).toContain('/name')
    const scope = await s.send('/dashboard/settings/api-keys', { kind: 'secret', scopes: ['leads:read', 'root:everything'] })
    expect(scope.status).toBe(422)
    expect(await scope.text()).toContain('root:everything')
    const kind = await s.send('/dashboard/settings/api-keys', { kind: 'admin' })
    expect(kind.status).toBe(422)
    expect(await kind.text()).toContain('/kind')
    expect(await h.rows.all('apiKeys', { workspaceId: ws.id })).toHaveLength(before)
    expect((await s.send('/dashboard/settings/api-keys', { kind: 'secret', name: 'CRM', scopes: ['leads:read'] })).status).toBe(201)
  })
})

describe('ids in the path', () => {
  test('a segment that does not decode (%ZZ, %C0%AE) is a 404 page on every page and form that takes an id, not a 500', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    for (const id of ['%ZZ', '%C0%AE']) {
      for (const path of ['/settings/webhooks/ID', '/campaigns/ID', '/contacts/ID', '/deals/ID', '/leads/ID/convert']) {
        const res = await h.request('GET', s.at(`/dashboard${path.replace('ID', id)}`), { headers: { cookie: s.cookie } })
        expect({ path, id, status: res.status }).toEqual({ path, id, status: 404 })
      }
      for (const path of [
        '/settings/webhooks/ID/delete',
        '/settings/webhooks/ID/test',
        '/campaigns/ID/edit',
        '/campaigns/ID/spend',
        '/settings/api-keys/ID/revoke',
      ]) {
        const res = await s.send(`/dashboard${path.replace('ID', id)}`, { confirm: 'yes', name: 'n', amount: '1' })
        expect({ path, id, status: res.status }).toEqual({ path, id, status: 404 })
      }
    }
  })
})
