/** API keys over HTTP: create (full key shown once), list, get, revoke; scopes, tenancy and key hygiene. */
import { afterAll, describe, expect, test } from 'bun:test'
import { newId } from '../../src/lib/ids'
import { hashKey } from '../../src/lib/keys'
import { SCOPES } from '../../src/lib/scopes'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

async function createKey(key: string, body: Record<string, unknown>) {
  const res = await h.request('POST', '/api/v1/api-keys', { key, body })
  expect(res.status).toBe(201)
  return (await res.json()) as { id: string; key: string; prefix: string; scopes: string[]; [k: string]: unknown }
}

async function expectInvalid(res: Response, path: string) {
  expect(res.status).toBe(422)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  const body = (await res.json()) as { errors: { path: string }[] }
  expect(body.errors.map((e) => e.path)).toContain(path)
}

describe('create', async () => {
  const ws = await h.workspace()

  test('a secret key: 201, the full key once, all scopes of the creator by default, and it works', async () => {
    const res = await h.request('POST', '/api/v1/api-keys', { key: ws.key, body: { kind: 'secret', name: 'CRM sync' } })
    expect(res.status).toBe(201)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const created = await res.json()
    expect(res.headers.get('location')).toBe(`/api/v1/api-keys/${created.id}`)
    expect(created).toMatchObject({
      object: 'api_key',
      kind: 'secret',
      name: 'CRM sync',
      scopes: [...SCOPES],
      allowed_origins: [],
      rate_limit: null,
      created_at: new Date(h.clock.now()).toISOString(),
      last_used_at: null,
      expires_at: null,
      revoked_at: null,
    })
    expect(created.key).toMatch(/^ask_sk_[0-9A-Za-z]{36}$/)
    expect(created.prefix).toBe(`${created.key.slice(0, 11)}…`)
    expect((await h.request('GET', '/api/v1/contacts', { key: created.key })).status).toBe(200)
    // Only the hash is stored.
    const row = (await h.rows.find('apiKeys', { id: created.id }))!
    expect(row.hash).toBe(hashKey(created.key))
    expect(JSON.stringify(row)).not.toContain(created.key)
  })

  test('the full key appears only in the creation response: not in list, get, revoke, or the logs', async () => {
    const created = await createKey(ws.key, { kind: 'secret', name: 'Shown once', scopes: ['contacts:read'] })
    expect((await h.request('GET', '/api/v1/contacts', { key: created.key })).status).toBe(200)
    const list = await (await h.request('GET', '/api/v1/api-keys', { key: ws.key })).text()
    const one = await (await h.request('GET', `/api/v1/api-keys/${created.id}`, { key: ws.key })).text()
    const revoked = await (await h.request('DELETE', `/api/v1/api-keys/${created.id}`, { key: ws.key })).text()
    for (const text of [list, one, revoked, h.logs.join('\n')]) {
      expect(text).not.toContain(created.key)
      expect(text).not.toContain(created.key.slice(0, 20))
      expect(text).not.toContain(hashKey(created.key))
    }
    expect(list).toContain(created.prefix)
    expect(JSON.parse(one)).not.toHaveProperty('key')
    expect(h.logs.join('\n')).toContain(created.key.slice(0, 11))
  })

  test('explicit scopes, rate limit and expiry', async () => {
    const expires = new Date(h.clock.now() + 3_600_000).toISOString()
    const created = await createKey(ws.key, { kind: 'secret', scopes: ['leads:write', 'leads:write', 'contacts:read'], rate_limit: 10, expires_at: expires })
    expect(created).toMatchObject({ name: 'Secret key', scopes: ['leads:write', 'contacts:read'], rate_limit: 10, expires_at: expires })
    expect((await h.request('GET', '/api/v1/contacts', { key: created.key })).status).toBe(200)
    expect((await h.request('GET', '/api/v1/api-keys', { key: created.key })).status).toBe(403)
    h.clock.advance(3_600_000)
    expect((await h.request('GET', '/api/v1/contacts', { key: created.key })).status).toBe(401)
  })

  test('a publishable key: leads:capture only, origins normalised', async () => {
    const created = await createKey(ws.key, { kind: 'publishable', name: 'Form', allowed_origins: ['https://www.example.com/', 'http://localhost:8080'] })
    expect(created.key).toMatch(/^ask_pk_/)
    expect(created).toMatchObject({ kind: 'publishable', scopes: ['leads:capture'], allowed_origins: ['https://www.example.com', 'http://localhost:8080'] })
    expect((await h.request('GET', '/api/v1/api-keys', { key: created.key })).status).toBe(403)
  })

  test('a key cannot grant scopes it does not hold; by default it grants its own', async () => {
    const manager = await h.key(ws.id, { scopes: ['keys:manage', 'leads:read'] })
    const res = await h.request('POST', '/api/v1/api-keys', { key: manager.key, body: { kind: 'secret', scopes: ['leads:read', 'deals:write'] } })
    expect(res.status).toBe(403)
    expect((await res.json()).detail).toContain('deals:write')
    const pk = await h.request('POST', '/api/v1/api-keys', { key: manager.key, body: { kind: 'publishable', allowed_origins: ['https://a.example'] } })
    expect(pk.status).toBe(403)
    const same = await createKey(manager.key, { kind: 'secret' })
    expect(same.scopes).toEqual(['keys:manage', 'leads:read'])
  })

  test('422 with paths', async () => {
    const post = (body: unknown) => h.request('POST', '/api/v1/api-keys', { key: ws.key, body })
    const before = (await (await h.request('GET', '/api/v1/api-keys', { key: ws.key })).json()).pagination.total
    await expectInvalid(await post({ name: 'no kind' }), '/kind')
    await expectInvalid(await post({ kind: 'admin' }), '/kind')
    await expectInvalid(await post({ kind: 'secret', scopes: ['leads:read', 'root'] }), '/scopes/1')
    await expectInvalid(await post({ kind: 'secret', scopes: [] }), '/scopes')
    await expectInvalid(await post({ kind: 'secret', scopes: 'leads:read' }), '/scopes')
    await expectInvalid(await post({ kind: 'secret', allowed_origins: ['https://a.example'] }), '/allowed_origins')
    await expectInvalid(await post({ kind: 'publishable' }), '/allowed_origins')
    await expectInvalid(await post({ kind: 'publishable', allowed_origins: ['https://a.example/form'] }), '/allowed_origins/0')
    await expectInvalid(await post({ kind: 'publishable', allowed_origins: ['https://a.example'], scopes: ['leads:write'] }), '/scopes')
    await expectInvalid(await post({ kind: 'secret', rate_limit: 0 }), '/rate_limit')
    await expectInvalid(await post({ kind: 'secret', expires_at: 'tomorrow' }), '/expires_at')
    await expectInvalid(await post({ kind: 'secret', expires_at: new Date(h.clock.now() - 1000).toISOString() }), '/expires_at')
    await expectInvalid(await h.request('GET', '/api/v1/api-keys?page=0', { key: ws.key }), 'query.page')
    expect((await (await h.request('GET', '/api/v1/api-keys', { key: ws.key })).json()).pagination.total).toBe(before)
  })
})

describe('list and get', () => {
  test('newest first, paginated, only this workspace, revoked keys included', async () => {
    const ws = await h.workspace()
    const other = await h.workspace()
    h.clock.advance(1)
    const a = await createKey(ws.key, { kind: 'secret', name: 'a' })
    h.clock.advance(1)
    const b = await createKey(ws.key, { kind: 'secret', name: 'b' })
    await h.request('DELETE', `/api/v1/api-keys/${a.id}`, { key: ws.key })

    const list = await (await h.request('GET', '/api/v1/api-keys', { key: ws.key })).json()
    expect(list.data.map((k: { id: string }) => k.id)).toEqual([b.id, a.id, ws.keyId])
    expect(list.pagination).toMatchObject({ page: 1, total: 3, has_more: false })
    expect(list.data[1].revoked_at).not.toBeNull()
    for (const k of list.data) expect(Object.keys(k).sort()).toEqual(Object.keys(list.data[0]).sort())
    expect(list.data[0]).not.toHaveProperty('hash')

    const page = await h.request('GET', '/api/v1/api-keys?limit=1&page=2', { key: ws.key })
    expect((await page.json()).data.map((k: { id: string }) => k.id)).toEqual([a.id])
    expect(page.headers.get('link')).toContain('rel="prev"')

    const theirs = await (await h.request('GET', '/api/v1/api-keys', { key: other.key })).json()
    expect(theirs.data.map((k: { id: string }) => k.id)).toEqual([other.keyId])

    const one = await h.request('GET', `/api/v1/api-keys/${b.id}`, { key: ws.key })
    expect(one.status).toBe(200)
    expect(await one.json()).toMatchObject({ id: b.id, name: 'b', prefix: b.prefix })
  })
})

describe('revoke', () => {
  test('200 with the revoked key; its next request is 401; revoking again answers the same', async () => {
    const ws = await h.workspace()
    const victim = await createKey(ws.key, { kind: 'secret' })
    expect((await h.request('GET', '/api/v1/contacts', { key: victim.key })).status).toBe(200)
    const res = await h.request('DELETE', `/api/v1/api-keys/${victim.id}`, { key: ws.key })
    expect(res.status).toBe(200)
    const revoked = await res.json()
    expect(revoked).toMatchObject({ id: victim.id, revoked_at: new Date(h.clock.now()).toISOString() })
    const next = await h.request('GET', '/api/v1/contacts', { key: victim.key })
    expect(next.status).toBe(401)
    expect((await next.json()).detail).toMatch(/revoked/)
    h.clock.advance(5000)
    const again = await h.request('DELETE', `/api/v1/api-keys/${victim.id}`, { key: ws.key })
    expect(again.status).toBe(200)
    expect((await again.json()).revoked_at).toBe(revoked.revoked_at)
  })

  test('a key may revoke itself', async () => {
    const ws = await h.workspace()
    const res = await h.request('DELETE', `/api/v1/api-keys/${ws.keyId}`, { key: ws.key })
    expect(res.status).toBe(200)
    expect((await h.request('GET', '/api/v1/api-keys', { key: ws.key })).status).toBe(401)
  })
})

describe('auth, scopes and other workspaces', async () => {
  const ws = await h.workspace()
  const other = await h.workspace()
  const noManage = await h.key(ws.id, { scopes: SCOPES.filter((s) => s !== 'keys:manage') })
  const endpoints = (id: string) =>
    [
      ['GET', '/api/v1/api-keys', undefined],
      ['POST', '/api/v1/api-keys', { kind: 'secret' }],
      ['GET', `/api/v1/api-keys/${id}`, undefined],
      ['DELETE', `/api/v1/api-keys/${id}`, undefined],
    ] as const

  test('401 without a key or with a malformed one', async () => {
    for (const [method, path, body] of endpoints(ws.keyId)) {
      expect((await h.request(method, path, { body })).status).toBe(401)
      expect((await h.request(method, path, { body, key: 'ask_sk_garbage' })).status).toBe(401)
    }
  })

  test('403 without keys:manage; nothing is created or revoked', async () => {
    for (const [method, path, body] of endpoints(ws.keyId)) {
      const res = await h.request(method, path, { body, key: noManage.key })
      expect(res.status).toBe(403)
      expect((await res.json()).detail).toContain('keys:manage')
    }
    expect((await h.request('GET', '/api/v1/contacts', { key: ws.key })).status).toBe(200)
    expect(await h.rows.all('apiKeys', { workspaceId: ws.id })).toHaveLength(2)
  })

  test("404 for another workspace's key id (and an unknown one); the foreign key keeps working", async () => {
    for (const id of [other.keyId, newId()]) {
      for (const method of ['GET', 'DELETE'] as const) {
        const res = await h.request(method, `/api/v1/api-keys/${id}`, { key: ws.key })
        expect(res.status).toBe(404)
        expect(res.headers.get('content-type')).toBe('application/problem+json')
      }
    }
    expect((await h.request('GET', '/api/v1/api-keys', { key: other.key })).status).toBe(200)
  })
})
