/**
 * The audit log over HTTP: key and webhook changes record who (key prefix, dashboard session, CLI),
 * what, when and from which IP, in the transaction of the change; GET /api/v1/audit-log and the
 * dashboard page read it, per workspace only.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

// The harness has no socket: the peer is 127.0.0.1, trusted here, so X-Forwarded-For names the client.
const h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ASKAD_TRUSTED_PROXIES: '127.0.0.1/32' } })
afterAll(() => h.close())

const CLIENT = '203.0.113.9'
const ORIGIN = 'http://localhost'

interface Entry {
  id: string
  action: string
  actor: { type: string; id: string | null; label: string }
  ip: string | null
  target: { type: string | null; id: string | null }
  details: Record<string, unknown>
  created_at: string
}

async function auditLog(key: string, query = ''): Promise<{ data: Entry[]; pagination: { total: number; has_more: boolean } }> {
  const res = await h.request('GET', `/api/v1/audit-log${query}`, { key })
  expect(res.status).toBe(200)
  return res.json()
}

const fromClient = { 'x-forwarded-for': CLIENT }

describe('API actions are recorded with the acting key and its client IP', async () => {
  const ws = await h.workspace()
  const prefix = `${ws.key.slice(0, 11)}…`

  test('creating and revoking a key', async () => {
    const created = await h.request('POST', '/api/v1/api-keys', {
      key: ws.key,
      body: { kind: 'secret', name: 'CRM sync', scopes: ['leads:write'] },
      headers: fromClient,
    })
    expect(created.status).toBe(201)
    const { id, key } = await created.json()
    expect((await h.request('DELETE', `/api/v1/api-keys/${id}`, { key: ws.key, headers: fromClient })).status).toBe(200)
    // Revoking again changes nothing, and records nothing.
    expect((await h.request('DELETE', `/api/v1/api-keys/${id}`, { key: ws.key, headers: fromClient })).status).toBe(200)

    const { data } = await auditLog(ws.key, '?action=key.created')
    const made = data.find((e) => e.target.id === id)!
    expect(made).toMatchObject({
      action: 'key.created',
      actor: { type: 'key', id: ws.keyId, label: prefix },
      ip: CLIENT,
      target: { type: 'api_key', id },
      details: { kind: 'secret', name: 'CRM sync', scopes: ['leads:write'] },
      created_at: new Date(h.clock.now()).toISOString(),
    })
    const revoked = (await auditLog(ws.key, '?action=key.revoked')).data.filter((e) => e.target.id === id)
    expect(revoked).toHaveLength(1)
    expect(revoked[0]!.actor.label).toBe(prefix)
    // The key itself is never recorded.
    expect(JSON.stringify(await h.rows.all('auditLog'))).not.toContain(key)
  })

  test('creating, changing, rotating and deleting a webhook endpoint; headers are named, never their values', async () => {
    const res = await h.request('POST', '/api/v1/webhooks', {
      key: ws.key,
      body: { url: 'http://127.0.0.1:9/hook/T0KEN-in-path?token=in-query' },
      headers: fromClient,
    })
    expect(res.status).toBe(201)
    const { id } = await res.json()
    const patched = await h.request('PATCH', `/api/v1/webhooks/${id}`, {
      key: ws.key,
      body: { description: 'CRM', headers: { authorization: 'Bearer receiver-secret-123' } },
      headers: fromClient,
    })
    expect(patched.status).toBe(200)
    expect((await h.request('POST', `/api/v1/webhooks/${id}/rotate-secret`, { key: ws.key, headers: fromClient })).status).toBe(200)
    expect((await h.request('DELETE', `/api/v1/webhooks/${id}`, { key: ws.key, headers: fromClient })).status).toBe(204)

    const entries = (await auditLog(ws.key)).data.filter((e) => e.target.id === id)
    expect(entries.map((e) => e.action)).toEqual(['webhook.deleted', 'webhook.secret_rotated', 'webhook.updated', 'webhook.created'])
    for (const e of entries) expect(e).toMatchObject({ actor: { type: 'key', label: prefix }, ip: CLIENT, target: { type: 'webhook_endpoint' } })
    expect(entries[2]!.details).toEqual({ fields: ['description', 'headers'] })
    // The URL's origin only: a receiver's URL may carry its own secret.
    expect(entries[3]!.details).toEqual({ origin: 'http://127.0.0.1:9' })
    expect(JSON.stringify(await h.rows.all('auditLog'))).not.toContain('T0KEN')
    expect(JSON.stringify(await h.rows.all('auditLog'))).not.toContain('receiver-secret-123')
  })

  test('a failed change records nothing', async () => {
    const before = (await auditLog(ws.key)).pagination.total
    const bad = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: 'not a url' } })
    expect(bad.status).toBe(422)
    const missing = await h.request('DELETE', '/api/v1/webhooks/00000000-0000-7000-8000-000000000000', { key: ws.key })
    expect(missing.status).toBe(404)
    expect((await auditLog(ws.key)).pagination.total).toBe(before)
  })
})

describe('reading the log', async () => {
  test('each workspace sees only its own entries', async () => {
    const a = await h.workspace()
    const b = await h.workspace()
    await h.request('POST', '/api/v1/api-keys', { key: a.key, body: { kind: 'secret', name: 'only in a' } })
    const { data } = await auditLog(b.key)
    expect(data.some((e) => e.details.name === 'only in a')).toBe(false)
    expect((await auditLog(a.key)).data.some((e) => e.details.name === 'only in a')).toBe(true)
  })

  test('newest first, paginated, filtered by action and since', async () => {
    const ws = await h.workspace()
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1000)
      await h.request('POST', '/api/v1/api-keys', { key: ws.key, body: { kind: 'secret', name: `k${i}` } })
    }
    const first = await h.request('GET', '/api/v1/audit-log?limit=2&action=key.created', { key: ws.key })
    const page = await first.json()
    expect(page.data.map((e: Entry) => e.details.name)).toEqual(['k4', 'k3'])
    // Five here, and the workspace's first key, made by the harness outside any request: the system's.
    expect(page.pagination).toMatchObject({ page: 1, limit: 2, total: 6, has_more: true })
    const oldest = await auditLog(ws.key, '?action=key.created&page=6&limit=1')
    expect(oldest.data[0]!.actor).toEqual({ type: 'system', id: null, label: 'system' })
    expect(first.headers.get('link')).toContain('rel="next"')
    const since = new Date(h.clock.now() - 1000).toISOString()
    const recent = await auditLog(ws.key, `?action=key.created&since=${encodeURIComponent(since)}`)
    expect(recent.data.map((e) => e.details.name)).toEqual(['k4', 'k3'])
  })

  test('a bad since is a 422 naming it; a key without keys:manage gets 403', async () => {
    const ws = await h.workspace()
    const res = await h.request('GET', '/api/v1/audit-log?since=yesterday', { key: ws.key })
    expect(res.status).toBe(422)
    expect(JSON.stringify(await res.json())).toContain('/since')
    const reader = await h.key(ws.id, { scopes: ['leads:read'] })
    expect((await h.request('GET', '/api/v1/audit-log', { key: reader.key })).status).toBe(403)
  })
})

describe('the dashboard', async () => {
  const form = (fields: Record<string, string>) => new URLSearchParams(fields)

  test('signing in and creating a key are recorded for the session, and the page lists them', async () => {
    const ws = await h.workspace()
    const signIn = await h.request('POST', '/dashboard/sign-in', {
      rawBody: form({ key: ws.key, next: '/dashboard' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, ...fromClient },
    })
    expect(signIn.status).toBe(303)
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!
    const base = `/dashboard/w/${ws.slug}`
    const overview = await (await h.request('GET', base, { headers: { cookie } })).text()
    const csrf = /name="_csrf" value="([^"]+)"/.exec(overview)![1]!
    const created = await h.request('POST', `${base}/settings/api-keys`, {
      rawBody: form({ _csrf: csrf, kind: 'secret', name: 'from the dashboard' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, cookie, ...fromClient },
    })
    expect(created.status).toBe(201)

    const { data } = await auditLog(ws.key)
    const prefix = `${ws.key.slice(0, 11)}…`
    expect(data.find((e) => e.action === 'session.signed_in')).toMatchObject({ actor: { type: 'key', label: prefix }, ip: CLIENT })
    expect(data.find((e) => e.action === 'key.created' && e.details.name === 'from the dashboard')).toMatchObject({ actor: { label: prefix }, ip: CLIENT })

    const page = await h.request('GET', `${base}/settings/audit-log?action=key.created`, { headers: { cookie } })
    expect(page.status).toBe(200)
    const text = await page.text()
    expect(text).toContain('from the dashboard')
    expect(text).not.toContain('data-action="session.signed_in"')
    expect(text).toContain(CLIENT)
  })
})
