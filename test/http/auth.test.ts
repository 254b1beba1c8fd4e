/** Authentication, scopes and key hygiene through the real HTTP layer. */
import { afterAll, describe, expect, test } from 'bun:test'
import { generateKey } from '../../src/lib/keys'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

const lead = { email: 'jane@example.com', source: 'test' }

async function expectProblem(res: Response, status: number, detail: RegExp) {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  const body = await res.json()
  expect(body).toMatchObject({ status, title: expect.any(String), type: expect.any(String) })
  expect(body.detail).toMatch(detail)
  expect(body.request_id).toBe(res.headers.get('x-request-id'))
  return body
}

describe('401 for every kind of bad key', async () => {
  const ws = await h.workspace()

  test('missing key', async () => {
    await expectProblem(await h.request('POST', '/api/v1/leads/inbound', { body: lead }), 401, /No API key/)
    await expectProblem(await h.request('GET', '/api/v1/contacts'), 401, /No API key/)
  })

  test('malformed key (wrong shape, bad checksum, not Bearer)', async () => {
    for (const bad of ['nope', 'ask_sk_123', ws.key.slice(0, -1) + (ws.key.endsWith('a') ? 'b' : 'a')]) {
      await expectProblem(await h.request('GET', '/api/v1/contacts', { key: bad }), 401, /malformed/)
    }
    const res = await h.request('GET', '/api/v1/contacts', { headers: { authorization: `Token ${ws.key}` } })
    await expectProblem(res, 401, /malformed/)
  })

  test('unknown key (valid checksum, never issued)', async () => {
    await expectProblem(await h.request('GET', '/api/v1/contacts', { key: generateKey('secret') }), 401, /not valid/)
  })

  test('revoked key stops working on its next request', async () => {
    const k = await h.key(ws.id)
    expect((await h.request('GET', '/api/v1/contacts', { key: k.key })).status).toBe(200)
    const { revokeKey } = await import('../../src/modules/api-keys/service')
    await revokeKey(h.deps, ws.id, k.id)
    await expectProblem(await h.request('GET', '/api/v1/contacts', { key: k.key }), 401, /revoked/)
  })

  test('expired key', async () => {
    const k = await h.key(ws.id, { expiresAt: h.clock.now() + 1000 })
    expect((await h.request('GET', '/api/v1/contacts', { key: k.key })).status).toBe(200)
    h.clock.advance(1000)
    await expectProblem(await h.request('GET', '/api/v1/contacts', { key: k.key }), 401, /expired/)
  })

  test('HTTP Basic with the key as user name works like Bearer (curl -u key:)', async () => {
    const res = await h.request('GET', '/api/v1/contacts', { headers: { authorization: `Basic ${btoa(`${ws.key}:`)}` } })
    expect(res.status).toBe(200)
  })

  test('401 comes before body checks: no key and malformed JSON is still 401', async () => {
    const res = await h.request('POST', '/api/v1/leads/inbound', { rawBody: '{oops', headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(401)
  })
})

describe('403 for a missing scope', async () => {
  const ws = await h.workspace()
  const readOnly = await h.key(ws.id, { scopes: ['contacts:read'] })

  test('a key without leads:write cannot push leads, and nothing is stored', async () => {
    const res = await h.request('POST', '/api/v1/leads/inbound', { key: readOnly.key, body: lead })
    await expectProblem(res, 403, /leads:write/)
    const list = await (await h.request('GET', '/api/v1/contacts', { key: readOnly.key })).json()
    expect(list.pagination.total).toBe(0)
  })

  test('a key without contacts:read cannot list contacts', async () => {
    const writeOnly = await h.key(ws.id, { scopes: ['leads:write'] })
    await expectProblem(await h.request('GET', '/api/v1/contacts', { key: writeOnly.key }), 403, /contacts:read/)
  })

  test('a publishable key only captures', async () => {
    const pk = await h.key(ws.id, { kind: 'publishable', allowedOrigins: ['https://www.example.com'] })
    await expectProblem(await h.request('POST', '/api/v1/leads/inbound', { key: pk.key, body: lead }), 403, /leads:write/)
    await expectProblem(await h.request('GET', '/api/v1/contacts', { key: pk.key }), 403, /contacts:read/)
  })

  test('a secret key sent from a browser page on another origin is refused', async () => {
    const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: lead, headers: { origin: 'https://evil.example' } })
    await expectProblem(res, 403, /browser/)
  })
})

describe('tenant isolation', () => {
  test("one workspace never sees another's contacts", async () => {
    const a = await h.workspace()
    const b = await h.workspace()
    expect((await h.request('POST', '/api/v1/leads/inbound', { key: a.key, body: { email: 'only-a@example.com' } })).status).toBe(201)
    const seenByB = await (await h.request('GET', '/api/v1/contacts?email=only-a@example.com', { key: b.key })).json()
    expect(seenByB.data).toEqual([])
    expect(seenByB.pagination.total).toBe(0)
    const seenByA = await (await h.request('GET', '/api/v1/contacts?email=only-a@example.com', { key: a.key })).json()
    expect(seenByA.data).toHaveLength(1)
  })

  test('the same email in two workspaces is two contacts', async () => {
    const a = await h.workspace()
    const b = await h.workspace()
    const ra = await (await h.request('POST', '/api/v1/leads/inbound', { key: a.key, body: { email: 'same@example.com' } })).json()
    const rb = await (await h.request('POST', '/api/v1/leads/inbound', { key: b.key, body: { email: 'same@example.com' } })).json()
    expect(ra.contact_id).not.toBe(rb.contact_id)
  })
})

describe('keys never leak', () => {
  test('no log line and no response contains a full key', async () => {
    const ws = await h.workspace()
    const bodies: string[] = []
    for (const [method, path, body] of [
      ['POST', '/api/v1/leads/inbound', lead],
      ['GET', '/api/v1/contacts', undefined],
      ['GET', `/api/v1/${ws.key}`, undefined],
    ] as const) {
      const res = await h.request(method, path, { key: ws.key, body })
      bodies.push(await res.text(), JSON.stringify([...res.headers]))
    }
    const bad = ws.key.slice(0, -1) + (ws.key.endsWith('a') ? 'b' : 'a')
    bodies.push(await (await h.request('GET', '/api/v1/contacts', { key: bad })).text())
    for (const text of [...bodies, ...h.logs]) {
      expect(text).not.toContain(ws.key)
      expect(text).not.toContain(bad)
    }
    const logged = h.logs.map((l) => JSON.parse(l)).filter((l) => l.key_prefix === ws.key.slice(0, 11))
    expect(logged.length).toBeGreaterThanOrEqual(2)
  })

  test('one JSON log line per request with id, method, route, status, duration and key prefix', async () => {
    const ws = await h.workspace()
    h.logs.length = 0
    const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: lead })
    expect(h.logs).toHaveLength(1)
    const line = JSON.parse(h.logs[0]!)
    expect(line).toMatchObject({
      request_id: res.headers.get('x-request-id'),
      method: 'POST',
      route: '/api/v1/leads/inbound',
      status: 201,
      key_prefix: ws.key.slice(0, 11),
    })
    expect(typeof line.duration_ms).toBe('number')
  })
})
