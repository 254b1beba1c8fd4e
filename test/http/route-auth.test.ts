/**
 * Every /api/v1 route, generated from the app's own route table (after unkey's runSharedRoleTests):
 * 401 without a key, 403 with a key holding every scope but the one the route names
 * (`x-required-scope`), not 401/403 with that scope alone, and 404 for another workspace's ids.
 * A new route is covered the day it is added, and one that forgets its scope fails here.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { SCOPE_EXTENSION, SOURCE_PATH_PREFIX } from '../../src/plugins/auth'
import { acceptsCsv, type RouteEntry } from '../../src/plugins/route-table'
import { SCOPES, type Scope } from '../../src/lib/scopes'
import { createHarness, expectProblem } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
afterAll(() => h.close())

const routes = h.app.routes
  .filter((r) => r.path.startsWith('/api/v1/') && r.method !== 'OPTIONS')
  .map((r) => {
    const hooks = r.hooks as { detail?: Record<string, unknown>; body?: { examples?: unknown[] } }
    const scope = hooks.detail?.[SCOPE_EXTENSION] as Scope | undefined
    return { method: r.method, path: r.path, scope, example: hooks.body?.examples?.[0], csv: acceptsCsv(r as RouteEntry) }
  })

/**
 * Source URLs (`/api/v1/in/:token`) authenticate by the token in their path, never by a key: a token holds
 * `leads:write` alone, so there is no "every scope but its own" to refuse with 403 and no other workspace's id
 * to reach (the token names its workspace). For them: 401 for a bad token even with an all-scopes key, and a
 * real source's token passes the scope check.
 */
const bySourceToken = (path: string) => path.startsWith(SOURCE_PATH_PREFIX)

/** Ids of the other workspace's objects, by the path segment before the parameter. */
async function foreignIds(): Promise<Record<string, string>> {
  const them = await h.workspace()
  const as = async (method: string, path: string, body?: unknown) =>
    (await h.request(method, path, { key: them.key, body })).json() as Promise<Record<string, string>>
  const lead = await as('POST', '/api/v1/leads/inbound', { email: 'victim@example.com' })
  const deal = await as('POST', '/api/v1/deals', { title: 'Theirs', value: 1, currency: 'USD' })
  const campaign = await as('POST', '/api/v1/campaigns', { name: 'Theirs', currency: 'USD' })
  const hook = await as('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/theirs' })
  const sent = await as('POST', `/api/v1/webhooks/${hook.id}/test`)
  const source = await as('POST', '/api/v1/sources', { name: 'Theirs', preset: 'generic' })
  return {
    leads: lead.id!,
    contacts: lead.contact_id!,
    deals: deal.id!,
    campaigns: campaign.id!,
    webhooks: hook.id!,
    deliveries: sent.delivery_id!,
    'api-keys': them.keyId,
    sources: source.id!,
  }
}

/** The route's path with each `:param` replaced by the id of the object the segment before it names. */
function fill(path: string, ids: Record<string, string>): string {
  const parts = path.split('/')
  return parts.map((part, i) => (part.startsWith(':') ? (ids[parts[i - 1]!] ?? '00000000-0000-0000-0000-000000000000') : part)).join('/')
}

test('the route table lists every API route, each with the scope it needs', () => {
  expect(routes.length).toBeGreaterThan(30)
  for (const route of routes)
    expect({ route: `${route.method} ${route.path}`, scope: SCOPES.includes(route.scope!) }).toEqual({ route: `${route.method} ${route.path}`, scope: true })
})

describe('every route', async () => {
  const mine = await h.workspace()
  const withScopes = async (scopes: Scope[]) => (await h.key(mine.id, { kind: 'secret', scopes })).key
  const idsReady = foreignIds()

  for (const route of routes.filter((r) => bySourceToken(r.path))) {
    const name = `${route.method} ${route.path} (${route.scope}, token in the path)`
    const send = (path: string, key?: string) =>
      h.request(route.method, path, {
        key,
        rawBody: route.method === 'GET' ? undefined : 'email=x%40example.com',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })

    test(`${name}: 401 without a valid token, even with an all-scopes key in the header`, async () => {
      await expectProblem(await send(route.path.replace(':token', 'src_unknown')), 401)
      await expectProblem(await send(route.path.replace(':token', 'src_unknown'), mine.key), 401)
    })

    test(`${name}: a source's token holds ${route.scope} and passes the scope check`, async () => {
      expect(route.scope).toBe('leads:write')
      const created = await h.request('POST', '/api/v1/sources', { key: mine.key, body: { name: 'route-auth', preset: 'generic' } })
      const { url } = (await created.json()) as { url: string }
      expect([401, 403]).not.toContain((await send(new URL(url).pathname)).status)
    })
  }

  for (const route of routes.filter((r) => !bySourceToken(r.path))) {
    const name = `${route.method} ${route.path} (${route.scope})`
    const send = (key: string | undefined, path = route.path.replaceAll(/:[a-z]+/g, '00000000-0000-0000-0000-000000000000'), body: unknown = {}) =>
      route.csv
        ? // A route that takes CSV is sent a CSV file: another content type is a 415 before the scope check.
          h.request(route.method, path, { key, rawBody: 'email\r\n', headers: { 'content-type': 'text/csv' } })
        : h.request(route.method, path, { key, body: route.method === 'GET' || route.method === 'DELETE' ? undefined : body })

    test(`${name}: 401 without a key`, async () => {
      await expectProblem(await send(undefined), 401)
    })

    test(`${name}: 403 with every scope but its own`, async () => {
      const others = SCOPES.filter((s) => s !== route.scope)
      // A publishable key holds only leads:capture; a secret key stands for "every other scope".
      const res = await send(await withScopes(others))
      await expectProblem(res, 403)
    })

    test(`${name}: its own scope alone passes the scope check`, async () => {
      const key =
        route.scope === 'leads:capture'
          ? (await h.key(mine.id, { kind: 'publishable', allowedOrigins: ['https://site.example'] })).key
          : await withScopes([route.scope!])
      expect([401, 403]).not.toContain((await send(key)).status)
    })

    if (route.path.includes(':')) {
      test(`${name}: 404 for another workspace's ids, with every scope`, async () => {
        // The documented example body, so the request is valid in every way but the ids.
        const res = await send(mine.key, fill(route.path, await idsReady), route.example ?? {})
        await expectProblem(res, 404)
      })
    }
  }
})
