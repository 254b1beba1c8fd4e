/**
 * The API-key routes, the gate, capture's preflight and the dashboard's session on PostgreSQL,
 * across two nodes: what one node changes, the other sees at once (no sticky sessions).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createKey } from '../../src/modules/api-keys/service'
import { createWorkspace } from '../../src/modules/workspaces/service'
import { pgNodes, type PgNodes } from '../keys-engines'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ORIGIN = 'http://localhost'

describe.skipIf(skipUnlessPg('API keys over HTTP on PostgreSQL'))('API keys, gate and sessions on two PostgreSQL nodes', () => {
  let nodes: PgNodes
  let workspaceId: string
  let key: string

  beforeAll(async () => {
    nodes = await pgNodes(2, { ASKAD_RATE_LIMIT: '3/60s' })
    workspaceId = (await createWorkspace(nodes.deps, { slug: 'acme' })).id
    key = (await createKey(nodes.deps, { workspaceId, kind: 'secret' })).key
  })
  afterAll(() => nodes.close())

  const call = (node: number, method: string, path: string, init: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    nodes.apps[node]!.handle(
      new Request(`${ORIGIN}${path}`, {
        method,
        headers: {
          ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
          ...(init.body ? { 'content-type': 'application/json' } : {}),
          ...init.headers,
        },
        body: init.body ? JSON.stringify(init.body) : undefined,
      }),
    )

  test('a key minted on one node is listed, read and revoked on the other; the gate then refuses it on both', async () => {
    const minted = await call(0, 'POST', '/api/v1/api-keys', { key, body: { kind: 'secret', name: 'ci', scopes: ['keys:manage'] } })
    expect(minted.status).toBe(201)
    const child = (await minted.json()) as { id: string; key: string }
    expect((await call(1, 'GET', `/api/v1/api-keys/${child.id}`, { key: child.key })).status).toBe(200)
    const page = (await (await call(1, 'GET', '/api/v1/api-keys?limit=1', { key: child.key })).json()) as { data: { id: string }[] }
    expect(page.data.map((k) => k.id)).toEqual([child.id])
    expect((await call(1, 'DELETE', `/api/v1/api-keys/${child.id}`, { key })).status).toBe(200)
    for (const node of [0, 1]) {
      const refused = await call(node, 'GET', '/api/v1/api-keys', { key: child.key })
      expect(refused.status).toBe(401)
      expect(refused.headers.get('content-type')).toBe('application/problem+json')
    }
  })

  test('no key is 401; a known key is limited per key after its look-up', async () => {
    const missing = await call(0, 'GET', '/api/v1/api-keys')
    expect(missing.status).toBe(401)
    const ws = await createWorkspace(nodes.deps, { slug: 'limits' })
    const limited = (await createKey(nodes.deps, { workspaceId: ws.id, kind: 'secret' })).key
    // The per-key limit (3 per window here) applies after a successful look-up on PostgreSQL too.
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await call(0, 'GET', '/api/v1/api-keys', { key: limited })).status)
    expect(statuses).toEqual([200, 200, 200, 429])
  })

  test("capture's preflight checks a ?key= against that key's origins", async () => {
    const pk = (await createKey(nodes.deps, { workspaceId, kind: 'publishable', allowedOrigins: ['https://shop.example'] })).key
    const preflight = (origin: string) => call(1, 'OPTIONS', `/api/v1/leads/capture?key=${pk}`, { headers: { origin } })
    expect((await preflight('https://shop.example')).status).toBe(204)
    expect((await preflight('https://evil.example')).status).toBe(403)
  })

  test('a dashboard session opened on one node is honoured, and ended, on the other', async () => {
    const opened = await nodes.apps[0]!.handle(
      new Request(`${ORIGIN}/dashboard/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
        body: new URLSearchParams({ key, next: '/dashboard/settings/api-keys' }).toString(),
      }),
    )
    expect(opened.status).toBe(303)
    const cookie = opened.headers.get('set-cookie')!.split(';')[0]!
    const keysPage = await call(1, 'GET', '/dashboard/w/acme/settings/api-keys', { headers: { cookie } })
    expect(keysPage.status).toBe(200)
    const html = await keysPage.text()
    expect(html).toContain('this session')
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!
    const signOut = await nodes.apps[1]!.handle(
      new Request(`${ORIGIN}/dashboard/sign-out`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, cookie },
        body: new URLSearchParams({ _csrf: csrf }).toString(),
      }),
    )
    expect(signOut.status).toBe(303)
    expect((await call(0, 'GET', '/dashboard/settings/api-keys', { headers: { cookie } })).status).toBe(303)
  })
})
