/** Webhook endpoint management over HTTP: create/list/get/update/delete, secrets, validation, SSRF refusals, tenancy. */
import { afterEach, describe, expect, test } from 'bun:test'
import { parseRanges } from '../../src/lib/client-ip'
import { blockedReason } from '../../src/lib/ssrf'
import { createHarness, expectProblem, type Harness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

let h: Harness
afterEach(() => h?.close())

const PUBLIC_URL = 'https://hooks.example.com/askad'

async function setup(env: Record<string, string> = {}) {
  h = createHarness({ env })
  h.deps.resolveHost = async (host) => (host === 'hooks.example.com' ? ['93.184.216.34'] : host === 'rebind.example.com' ? ['10.0.0.5'] : ['127.0.0.1'])
  return await h.workspace()
}

async function create(key: string, body: Record<string, unknown>) {
  const res = await h.request('POST', '/api/v1/webhooks', { key, body })
  return { status: res.status, body: (await res.json()) as Record<string, any> }
}

describe('endpoint lifecycle', () => {
  test('create returns the whsec_ secret once; get and list never show it; headers are redacted', async () => {
    const ws = await setup()
    const { status, body } = await create(ws.key, { url: PUBLIC_URL, description: 'CRM', headers: { 'X-Crm-Token': 's3cret' } })
    expect(status).toBe(201)
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(Buffer.from(body.secret.slice(6), 'base64')).toHaveLength(32)
    expect(body).toMatchObject({
      object: 'webhook_endpoint',
      url: PUBLIC_URL,
      events: ['*'],
      enabled: true,
      description: 'CRM',
      headers: { 'x-crm-token': '[redacted]' },
    })

    const got = await (await h.request('GET', `/api/v1/webhooks/${body.id}`, { key: ws.key })).json()
    expect(got).not.toHaveProperty('secret')
    expect(JSON.stringify(got)).not.toContain('s3cret')
    const list = await (await h.request('GET', '/api/v1/webhooks', { key: ws.key })).json()
    expect(list.pagination.total).toBe(1)
    expect(list.data[0].id).toBe(body.id)
    expect(JSON.stringify(list)).not.toContain('whsec_')
  })

  test('update changes url, events, description, headers and enabled; delete removes it', async () => {
    const ws = await setup()
    const { body } = await create(ws.key, { url: PUBLIC_URL, events: ['lead.created'] })
    const patched = await h.request('PATCH', `/api/v1/webhooks/${body.id}`, {
      key: ws.key,
      body: {
        url: 'https://hooks.example.com/v2',
        events: ['deal.closed', 'lead.converted'],
        description: 'v2',
        enabled: false,
        headers: { authorization: 'Bearer x' },
      },
    })
    expect(patched.status).toBe(200)
    expect(await patched.json()).toMatchObject({
      url: 'https://hooks.example.com/v2',
      events: ['deal.closed', 'lead.converted'],
      description: 'v2',
      enabled: false,
      headers: { authorization: '[redacted]' },
    })
    const all = await (await h.request('PATCH', `/api/v1/webhooks/${body.id}`, { key: ws.key, body: { events: ['*'], enabled: true } })).json()
    expect(all).toMatchObject({ events: ['*'], enabled: true, disabled_reason: null })

    expect((await h.request('DELETE', `/api/v1/webhooks/${body.id}`, { key: ws.key })).status).toBe(204)
    expect((await h.request('GET', `/api/v1/webhooks/${body.id}`, { key: ws.key })).status).toBe(404)
  })

  test('rotate-secret returns a new secret and when the previous one stops signing', async () => {
    const ws = await setup()
    const { body } = await create(ws.key, { url: PUBLIC_URL })
    const res = await h.request('POST', `/api/v1/webhooks/${body.id}/rotate-secret`, { key: ws.key })
    expect(res.status).toBe(200)
    const rotated = await res.json()
    expect(rotated.secret).toMatch(/^whsec_/)
    expect(rotated.secret).not.toBe(body.secret)
    expect(Date.parse(rotated.previous_secret_expires_at) - h.clock.now()).toBe(24 * 3600 * 1000)
  })

  test('the test event is refused (409) while the endpoint is disabled', async () => {
    const ws = await setup()
    const { body } = await create(ws.key, { url: PUBLIC_URL, enabled: false })
    const res = await h.request('POST', `/api/v1/webhooks/${body.id}/test`, { key: ws.key })
    expect(res.status).toBe(409)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
  })
})

describe('attempts at once (max_in_flight)', () => {
  test('defaults to 10, is set on create and by PATCH, and shows in the endpoint', async () => {
    const ws = await setup()
    expect((await create(ws.key, { url: PUBLIC_URL })).body.max_in_flight).toBe(10)
    const { status, body } = await create(ws.key, { url: PUBLIC_URL, max_in_flight: 40 })
    expect(status).toBe(201)
    expect(body.max_in_flight).toBe(40)
    const patched = await h.request('PATCH', `/api/v1/webhooks/${body.id}`, { key: ws.key, body: { max_in_flight: 1 } })
    expect(patched.status).toBe(200)
    expect((await patched.json()).max_in_flight).toBe(1)
    // Other changes leave it as it is.
    await h.request('PATCH', `/api/v1/webhooks/${body.id}`, { key: ws.key, body: { description: 'slow receiver' } })
    expect((await (await h.request('GET', `/api/v1/webhooks/${body.id}`, { key: ws.key })).json()).max_in_flight).toBe(1)
    const list = await (await h.request('GET', '/api/v1/webhooks', { key: ws.key })).json()
    expect(list.data.map((e: { max_in_flight: number }) => e.max_in_flight).sort((x: number, y: number) => x - y)).toEqual([1, 10])
  })

  test('outside 1–100, or not a whole number, is a 422 naming the field and the bound', async () => {
    const ws = await setup()
    const { body: endpoint } = await create(ws.key, { url: PUBLIC_URL })
    for (const value of [0, 101, -5, 2.5, '20', null]) {
      const created = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: PUBLIC_URL, max_in_flight: value } })
      const problem = await expectProblem(created, 422, ['/max_in_flight'])
      if (value === 0) expect(problem.errors[0].message).toContain('1')
      if (value === 101) expect(problem.errors[0].message).toContain('100')
      await expectProblem(await h.request('PATCH', `/api/v1/webhooks/${endpoint.id}`, { key: ws.key, body: { max_in_flight: value } }), 422, ['/max_in_flight'])
    }
    expect((await create(ws.key, { url: PUBLIC_URL, max_in_flight: 100 })).status).toBe(201)
    expect((await (await h.request('GET', `/api/v1/webhooks/${endpoint.id}`, { key: ws.key })).json()).max_in_flight).toBe(10)
  })

  test('the OpenAPI document describes it on the endpoint, create and update, with its bounds', async () => {
    await setup()
    const doc = (await (await h.request('GET', '/openapi.json')).json()) as Record<string, any>
    const text = JSON.stringify(doc)
    const property = (schema: any): any => schema?.properties?.max_in_flight
    const operation = (path: string, method: string) => doc.paths[path][method]
    const resolve = (schema: any): any => (schema?.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema)
    const body = (path: string, method: string) => resolve(operation(path, method).requestBody.content['application/json'].schema)
    for (const schema of [body('/api/v1/webhooks', 'post'), body('/api/v1/webhooks/{id}', 'patch')]) {
      expect(property(schema)).toMatchObject({ type: 'integer', minimum: 1, maximum: 100 })
      expect(property(schema).description).toContain('receiver that can take more')
    }
    expect(text).toContain('max_in_flight')
    const got = resolve(operation('/api/v1/webhooks/{id}', 'get').responses['200'].content['application/json'].schema)
    expect(property(got)).toMatchObject({ type: 'integer' })
  })
})

describe('validation', () => {
  test('unknown event types, bad URLs, reserved headers and unknown fields are 422 problems', async () => {
    const ws = await setup()
    const cases: [Record<string, unknown>, string][] = [
      [{ url: PUBLIC_URL, events: ['lead.deleted'] }, '/events'],
      [{ url: PUBLIC_URL, events: ['webhook.test'] }, '/events'],
      [{ url: 'ftp://hooks.example.com/' }, '/url'],
      [{ url: 'not a url' }, '/url'],
      [{ url: 'https://u:p@hooks.example.com/' }, '/url'],
      [{ url: PUBLIC_URL, headers: { 'webhook-signature': 'x' } }, '/headers/webhook-signature'],
      [{ url: PUBLIC_URL, headers: { 'bad header': 'x' } }, '/headers/bad header'],
      [{ url: PUBLIC_URL, secret: 'whsec_mine' }, '/secret'],
    ]
    for (const [body, path] of cases) {
      const res = await create(ws.key, body)
      expect(res.status).toBe(422)
      expect(res.body.errors.some((e: { path: string }) => e.path.startsWith(path))).toBe(true)
    }
  })

  test('recover needs an RFC 3339 since', async () => {
    const ws = await setup()
    const { body } = await create(ws.key, { url: PUBLIC_URL })
    expect((await h.request('POST', `/api/v1/webhooks/${body.id}/recover`, { key: ws.key, body: { since: 'yesterday' } })).status).toBe(422)
    expect((await h.request('POST', `/api/v1/webhooks/${body.id}/recover`, { key: ws.key, body: { since: '2026-11-01T00:00:00Z' } })).status).toBe(202)
  })
})

describe('endpoints per workspace', () => {
  test('the 21st endpoint is a 422 naming the limit of 20; deleting one makes room; other workspaces are unaffected', async () => {
    const ws = await setup()
    const ids: string[] = []
    for (let i = 0; i < 20; i++) {
      const { status, body } = await create(ws.key, { url: `${PUBLIC_URL}/${i}` })
      expect(status).toBe(201)
      ids.push(body.id)
    }
    const refused = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: PUBLIC_URL } })
    const problem = await expectProblem(refused, 422, [''])
    expect(problem.detail).toContain('20')
    expect(problem.detail).toContain('ASKAD_WEBHOOK_MAX_ENDPOINTS')
    expect((await create((await h.workspace()).key, { url: PUBLIC_URL })).status).toBe(201)
    expect((await h.request('DELETE', `/api/v1/webhooks/${ids[0]}`, { key: ws.key })).status).toBe(204)
    expect((await create(ws.key, { url: PUBLIC_URL })).status).toBe(201)
  })

  test('ASKAD_WEBHOOK_MAX_ENDPOINTS sets the limit', async () => {
    const ws = await setup({ ASKAD_WEBHOOK_MAX_ENDPOINTS: '2' })
    expect((await create(ws.key, { url: PUBLIC_URL })).status).toBe(201)
    expect((await create(ws.key, { url: PUBLIC_URL })).status).toBe(201)
    const problem = await expectProblem(await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: PUBLIC_URL } }), 422)
    expect(problem.detail).toContain('2 webhook endpoints')
  })
})

describe('SSRF guard at create and update', () => {
  const BLOCKED = [
    'http://localhost/',
    'http://[::1]/',
    'http://0.0.0.0/',
    'http://169.254.169.254/',
    'http://[::ffff:127.0.0.1]/',
    'http://2130706433/',
    'http://0x7f000001/',
    'https://rebind.example.com/',
  ]

  test('blocked addresses are refused with 422 "blocked address"', async () => {
    const ws = await setup()
    for (const url of BLOCKED) {
      const res = await create(ws.key, { url })
      expect(res.status).toBe(422)
      expect(res.body.detail).toContain('blocked address')
      expect(res.body.errors[0].path).toBe('/url')
    }
    const { body } = await create(ws.key, { url: PUBLIC_URL })
    const patch = await h.request('PATCH', `/api/v1/webhooks/${body.id}`, { key: ws.key, body: { url: 'http://169.254.169.254/latest' } })
    expect(patch.status).toBe(422)
    expect((await patch.json()).detail).toContain('blocked address')
  })

  test('the refusal names ASKAD_WEBHOOK_ALLOW_CIDRS with a value that lets exactly that address through', async () => {
    const hints = { 'http://127.0.0.1:9/': '127.0.0.1/32', 'http://[::ffff:127.0.0.1]/': '127.0.0.1/32', 'http://[::1]/': '::1/128' }
    const ws = await setup()
    for (const [url, cidr] of Object.entries(hints)) {
      const res = await create(ws.key, { url })
      expect(res.status).toBe(422)
      expect(res.body.detail).toContain('blocked address')
      expect(res.body.detail).toContain(`ASKAD_WEBHOOK_ALLOW_CIDRS=${cidr}`)
      expect(res.body.errors[0].message).toContain(`ASKAD_WEBHOOK_ALLOW_CIDRS=${cidr}`)
    }
    // The value offered works: it lets exactly that address through the guard.
    for (const [url, cidr] of Object.entries(hints)) {
      const address = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1')
      expect(blockedReason(address, parseRanges([cidr]))).toBeNull()
      expect(blockedReason('127.0.0.2', parseRanges([cidr]))).not.toBeNull()
    }
  })

  test('ASKAD_WEBHOOK_ALLOW_CIDRS lets the listed ranges through, and only those', async () => {
    const ws = await setup({ ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' })
    for (const url of ['http://localhost:8080/', 'http://[::ffff:127.0.0.1]/', 'http://2130706433/', 'http://0x7f000001/']) {
      expect((await create(ws.key, { url })).status).toBe(201)
    }
    for (const url of ['http://[::1]/', 'http://0.0.0.0/', 'http://169.254.169.254/']) {
      expect((await create(ws.key, { url })).status).toBe(422)
    }
  })
})

describe('tenancy and scopes', () => {
  test("another workspace's endpoint is 404 on every route; a key without webhooks:manage is 403", async () => {
    const ws = await setup()
    const other = await h.workspace()
    const { body } = await create(ws.key, { url: PUBLIC_URL })
    const routes: [string, string, unknown?][] = [
      ['GET', `/api/v1/webhooks/${body.id}`],
      ['PATCH', `/api/v1/webhooks/${body.id}`, { description: 'x' }],
      ['DELETE', `/api/v1/webhooks/${body.id}`],
      ['POST', `/api/v1/webhooks/${body.id}/rotate-secret`],
      ['POST', `/api/v1/webhooks/${body.id}/test`],
      ['POST', `/api/v1/webhooks/${body.id}/recover`, { since: '2026-01-01T00:00:00Z' }],
      ['GET', `/api/v1/webhooks/${body.id}/deliveries`],
      ['POST', `/api/v1/webhooks/${body.id}/deliveries/00000000-0000-0000-0000-000000000000/retry`],
    ]
    for (const [method, path, payload] of routes) {
      expect((await h.request(method, path, { key: other.key, body: payload })).status).toBe(404)
    }
    expect((await (await h.request('GET', '/api/v1/webhooks', { key: other.key })).json()).pagination.total).toBe(0)
    const limited = await h.key(ws.id, { scopes: ['leads:read'] })
    expect((await h.request('GET', '/api/v1/webhooks', { key: limited.key })).status).toBe(403)
    expect((await h.request('GET', `/api/v1/webhooks/${body.id}`, { key: ws.key })).status).toBe(200)
  })
})
