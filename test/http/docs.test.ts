/**
 * The OpenAPI document and the offline docs page: shape of /openapi.json (integers, operationIds,
 * named schemas, tags, webhooks, response headers, problem examples), Redocly lint with no errors and
 * no warnings, and a /docs page whose assets all come from this server and which carries an anchor
 * for every problem type. Generated clients are in openapi-clients.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EVENT_TYPES } from '../../src/db/outbox'
import { ERROR_CODES, type ErrorCode, problemType } from '../../src/errors'
import { createHarness, type Harness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head']

/** The request body of the seed document's examples, which the docs must show verbatim. */
const SEED_INBOUND = {
  email: 'jane@example.com',
  first_name: 'Jane',
  last_name: 'Smith',
  phone: '+1234567890',
  source: 'hubspot',
  metadata: { deal_value: 5000 },
}
const SEED_CAPTURE = { email: 'john@example.com', name: 'John Doe', source: 'website', page_url: 'https://example.com/pricing' }

type Json = Record<string, any>

let h: Harness
let ws: Awaited<ReturnType<Harness['workspace']>>
let baseUrl: string
let doc: Json
let dir: string

beforeAll(async () => {
  h = createHarness()
  ws = await h.workspace()
  h.app.listen({ hostname: '127.0.0.1', port: 0 })
  baseUrl = `http://127.0.0.1:${h.app.server!.port}`
  doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as Json
  dir = mkdtempSync(join(tmpdir(), 'askad-docs-'))
  writeFileSync(join(dir, 'openapi.json'), JSON.stringify(doc, null, 2))
})

afterAll(async () => {
  await h.app.stop(true)
  h.close()
  rmSync(dir, { recursive: true, force: true })
})

function operations(): { method: string; path: string; op: Json }[] {
  return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ method, path, op })),
  )
}

describe('GET /openapi.json', () => {
  test('is OpenAPI 3.1 with the bearer scheme applied to the API and not to the operational endpoints', () => {
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' })
    expect(doc.security).toEqual([{ bearerAuth: [] }])
    const ops = operations()
    expect(ops.length).toBeGreaterThan(10)
    for (const { path, method, op } of ops) {
      const where = `${method.toUpperCase()} ${path}`
      if (path.startsWith('/api/v1/')) {
        // Inherits the global bearer requirement, or names it (possibly beside another scheme).
        const security: Json[] = op.security ?? doc.security
        expect(
          security.some((s) => 'bearerAuth' in s),
          where,
        ).toBe(true)
      } else {
        expect(op.security, where).toEqual([])
      }
    }
    expect(doc.paths['/healthz']?.get).toBeDefined()
    expect(doc.paths['/metrics']?.get).toBeDefined()
    for (const hidden of ['/docs', '/openapi.json', '/docs/assets/{name}']) expect(doc.paths[hidden], hidden).toBeUndefined()
  })

  test('every operation has a summary, a description and a declared tag', () => {
    const declared = new Set((doc.tags as Json[]).map((t) => t.name))
    const missing = operations().flatMap(({ method, path, op }) => {
      const where = `${method.toUpperCase()} ${path}`
      const problems: string[] = []
      if (!op.summary) problems.push(`${where}: no summary`)
      if (!op.description) problems.push(`${where}: no description`)
      if (!op.tags?.length) problems.push(`${where}: no tag`)
      for (const tag of op.tags ?? []) if (!declared.has(tag)) problems.push(`${where}: tag '${tag}' not declared`)
      return problems
    })
    expect(missing).toEqual([])
  })

  test('API operations document their problem responses and every request body has an example', () => {
    const missing = operations().flatMap(({ method, path, op }) => {
      const where = `${method.toUpperCase()} ${path}`
      const problems: string[] = []
      if (path.startsWith('/api/v1/')) {
        for (const status of ['401', '429']) if (!op.responses[status]) problems.push(`${where}: no ${status} response`)
      }
      for (const [status, response] of Object.entries(op.responses as Json)) {
        if (Number(status) >= 400 && response.content?.['application/problem+json']?.schema?.$ref !== '#/components/schemas/Problem') {
          problems.push(`${where}: ${status} is not a problem+json Problem`)
        }
      }
      for (const [type, media] of Object.entries((op.requestBody?.content ?? {}) as Json)) {
        if (media.example === undefined) problems.push(`${where}: ${type} body has no example`)
      }
      return problems
    })
    expect(missing).toEqual([])
    expect(doc.components.schemas.Problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'request_id']))
  })

  test("the two lead endpoints carry the seed document's own request examples", () => {
    expect(doc.paths['/api/v1/leads/inbound'].post.requestBody.content['application/json'].example).toEqual(SEED_INBOUND)
    expect(doc.paths['/api/v1/leads/capture'].post.requestBody.content['application/json'].example).toEqual(SEED_CAPTURE)
  })

  test('Redocly CLI lint (offline, telemetry off) reports no errors and no warnings', () => {
    const lint = Bun.spawnSync(
      [join(ROOT, 'node_modules/.bin/redocly'), 'lint', join(dir, 'openapi.json'), '--config', join(import.meta.dir, '..', 'redocly.yaml'), '--format=json'],
      {
        cwd: dir,
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', DO_NOT_TRACK: '1', CI: 'true' },
        stdout: 'pipe',
        stderr: 'pipe',
      },
    )
    const report = JSON.parse(lint.stdout.toString()) as {
      totals: { errors: number; warnings: number }
      problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[]
    }
    const found = report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`)
    expect(found).toEqual([])
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 })
    expect(lint.exitCode).toBe(0)
  }, 30_000)
})

/** Every schema object in the document with its JSON Pointer. */
function schemasIn(value: unknown, pointer = ''): { pointer: string; node: Json }[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => schemasIn(item, `${pointer}/${i}`))
  if (!value || typeof value !== 'object') return []
  return [{ pointer, node: value as Json }, ...Object.entries(value).flatMap(([key, child]) => schemasIn(child, `${pointer}/${key}`))]
}

/** The types a schema admits at its top level (its `type`, or its union's branches'). */
function unionTypes(node: Json): string[] {
  const branches = (node.anyOf ?? node.oneOf) as Json[] | undefined
  if (Array.isArray(node.type)) return node.type
  return branches ? branches.flatMap((b) => (b.type ? [b.type].flat() : [])) : []
}

/** An example, or the one in `components.examples` it refers to. */
function resolved(example: Json): Json {
  return example.$ref ? doc.components.examples[(example.$ref as string).split('/').at(-1)!] : example
}

describe('what generated clients get from /openapi.json', () => {
  test('integers are integers: no union of a string with a number anywhere, except decimal money in request bodies', () => {
    const mixed = schemasIn(doc).filter(({ pointer, node }) => {
      const types = unionTypes(node)
      if (!types.includes('string')) return false
      if (types.includes('integer')) return true
      // Money accepts "19.99" as well as 19.99 (exact decimals); answers are always numbers.
      return types.includes('number') && !pointer.includes('/requestBody/')
    })
    expect(mixed.map((m) => m.pointer)).toEqual([])
    const limit = (doc.paths['/api/v1/contacts'].get.parameters as Json[]).find((p) => p.name === 'limit')!
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 200 })
    expect(doc.components.schemas.Pagination.properties.total).toMatchObject({ type: 'integer' })
    expect(doc.components.schemas.Contact.properties.lead_count).toMatchObject({ type: 'integer' })
    expect(doc.components.schemas.Problem.properties.status).toMatchObject({ type: 'integer' })
  })

  test('a page number sent as the integer type says still works at run time, and a bad one is a 422 naming the bound', async () => {
    const ok = await h.request('GET', '/api/v1/contacts?limit=50&page=1', { key: ws.key })
    expect(ok.status).toBe(200)
    const bad = await h.request('GET', '/api/v1/contacts?limit=201', { key: ws.key })
    expect(bad.status).toBe(422)
    expect(((await bad.json()) as Json).errors).toEqual([{ path: 'query.limit', message: 'must be between 1 and 200' }])
  })

  test('every operation has a unique, camelCase, declared operationId', () => {
    const ids = operations().map(({ op }) => op.operationId as string)
    expect(ids.filter((id) => !/^[a-z][a-zA-Z0-9]*$/.test(id) || /ApiV1|By[A-Z]/.test(id))).toEqual([])
    expect(new Set(ids).size).toBe(ids.length)
    const id = (method: string, path: string) => doc.paths[path][method].operationId
    expect(id('post', '/api/v1/leads/inbound')).toBe('createInboundLead')
    expect(id('post', '/api/v1/leads/capture')).toBe('captureLead')
    expect(id('get', '/api/v1/contacts')).toBe('listContacts')
    expect(id('get', '/api/v1/contacts/{id}')).toBe('getContact')
    expect(id('delete', '/api/v1/contacts/{id}')).toBe('deleteContact')
    expect(id('get', '/api/v1/leads')).toBe('listLeads')
    expect(id('post', '/api/v1/leads/{id}/convert')).toBe('convertLead')
    expect(id('post', '/api/v1/deals')).toBe('createDeal')
  })

  test("tags follow the seed document's order (Leads, Contacts, Deals, Webhooks) and each is described", () => {
    const names = (doc.tags as Json[]).map((t) => t.name)
    expect(names.slice(0, 4)).toEqual(['Leads', 'Contacts', 'Deals', 'Webhooks'])
    expect((doc.tags as Json[]).filter((t) => !t.description).map((t) => t.name)).toEqual([])
  })

  test('entities are named component schemas, referenced from the operations', () => {
    for (const name of ['Contact', 'Lead', 'Deal', 'Campaign', 'WebhookEndpoint', 'Delivery', 'ApiKey', 'Problem', 'Pagination', 'ContactList']) {
      expect(doc.components.schemas[name], name).toBeDefined()
    }
    const answer = (method: string, path: string, status: string) => doc.paths[path][method].responses[status].content['application/json'].schema
    expect(answer('get', '/api/v1/contacts', '200')).toEqual({ $ref: '#/components/schemas/ContactList' })
    expect(answer('get', '/api/v1/deals/{id}', '200')).toEqual({ $ref: '#/components/schemas/Deal' })
    expect(answer('get', '/api/v1/webhooks/{id}/deliveries', '200')).toEqual({ $ref: '#/components/schemas/DeliveryList' })
    expect(doc.components.schemas.ContactList.properties.data.items).toEqual({ $ref: '#/components/schemas/Contact' })
    expect(doc.paths['/api/v1/leads/inbound'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/InboundLead' })
    // No component schema is left with the marker that named it, nor a TypeBox $id.
    expect(JSON.stringify(doc)).not.toMatch(/"x-component"|"x-documented-as"|"\$id"/)
  })

  test('the webhooks section has every event type, its delivery body and the Standard Webhooks headers', () => {
    expect(Object.keys(doc.webhooks).sort()).toEqual([...EVENT_TYPES].sort())
    for (const type of EVENT_TYPES) {
      const post = doc.webhooks[type].post
      expect(post.parameters.map((p: Json) => p.$ref)).toEqual(
        ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => `#/components/parameters/${name}`),
      )
      const ref = post.requestBody.content['application/json'].schema.$ref as string
      const body = doc.components.schemas[ref.split('/').at(-1)!]
      expect(body.required, type).toEqual(['id', 'type', 'timestamp', 'data'])
      expect(body.properties.type.const, type).toBe(type)
    }
    expect(doc.components.schemas.LeadCreatedEvent.properties.data.properties.lead).toBeDefined()
    expect(doc.components.schemas.DealClosedEvent.properties.data.properties.deal).toEqual({ $ref: '#/components/schemas/Deal' })
  })

  test('response headers are documented where the server sends them, as $refs into components.headers', () => {
    const headers = (method: string, path: string, status: string) => Object.keys(doc.paths[path][method].responses[status].headers ?? {})
    expect(headers('get', '/api/v1/contacts', '200')).toEqual(
      expect.arrayContaining(['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'RateLimit', 'RateLimit-Policy', 'Link', 'X-Request-Id']),
    )
    expect(headers('get', '/api/v1/contacts/{id}', '200')).not.toContain('Link')
    expect(headers('post', '/api/v1/deals', '201')).toEqual(expect.arrayContaining(['Location', 'Idempotent-Replayed']))
    expect(headers('post', '/api/v1/leads/capture', '201')).not.toContain('Location')
    expect(headers('get', '/api/v1/contacts', '429')).toContain('Retry-After')
    expect(headers('post', '/api/v1/deals', '503')).toContain('Retry-After')
    expect(headers('get', '/api/v1/contacts', '401')).toContain('WWW-Authenticate')
    for (const { op } of operations()) {
      for (const response of Object.values(op.responses as Json)) {
        for (const [name, header] of Object.entries((response.headers ?? {}) as Json)) {
          expect(header).toEqual({ $ref: `#/components/headers/${name}` })
          expect(doc.components.headers[name], name).toBeDefined()
        }
      }
    }
  })

  test('Idempotency-Key has no example (Swagger UI would pre-fill it) and tells users to make one up', () => {
    const parameter = doc.components.parameters['Idempotency-Key']
    expect(parameter.example).toBeUndefined()
    expect(parameter.examples).toBeUndefined()
    expect(parameter.schema.examples).toBeUndefined()
    expect(parameter.description).toContain('Make up a new value for each distinct request')
    expect(doc.paths['/api/v1/leads/inbound'].post.parameters).toContainEqual({ $ref: '#/components/parameters/Idempotency-Key' })
  })

  test('each error status of each operation shows an example of the problem the server sends', () => {
    const wrong: string[] = []
    for (const { method, path, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses as Json)) {
        if (Number(status) < 400) continue
        const examples = Object.entries((response.content['application/problem+json'].examples ?? {}) as Json)
        if (examples.length === 0) wrong.push(`${method} ${path} ${status}: no example`)
        for (const [code, example] of examples) {
          const { type, status: sent } = resolved(example).value
          if (type !== problemType(code as ErrorCode) || sent !== Number(status)) wrong.push(`${method} ${path} ${status}: ${code} is ${type} ${sent}`)
        }
      }
    }
    expect(wrong).toEqual([])
    const examples = (method: string, path: string, status: string) =>
      Object.fromEntries(
        Object.entries(doc.paths[path][method].responses[status].content['application/problem+json'].examples as Json).map(([code, example]) => [
          code,
          resolved(example),
        ]),
      )
    expect(examples('get', '/api/v1/contacts', '403').insufficient_scope.value.detail).toContain("'contacts:read'")
    expect(examples('post', '/api/v1/leads/inbound', '422').validation_failed.value.errors).toEqual([{ path: '/email', message: expect.any(String) }])
    expect(Object.keys(examples('post', '/api/v1/leads/inbound', '422'))).toEqual(['validation_failed', 'idempotency_mismatch'])
    expect(examples('get', '/api/v1/contacts', '429').rate_limited.value.type).toBe(problemType('rate_limited'))
  })
})

describe('401 answers of the API', () => {
  test('carry WWW-Authenticate: Bearer, with error="invalid_token" only when a key was sent', async () => {
    const none = await h.request('GET', '/api/v1/contacts')
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="askad"')
    const bad = await h.request('GET', '/api/v1/contacts', { key: 'ask_sk_not-a-real-key' })
    expect(bad.status).toBe(401)
    expect(bad.headers.get('www-authenticate')).toBe('Bearer realm="askad", error="invalid_token"')
    const fine = await h.request('GET', '/api/v1/contacts', { key: ws.key })
    expect(fine.headers.get('www-authenticate')).toBeNull()
  })
})

describe('GET /docs', () => {
  test('is our own page: local assets only, a CSP that forbids anything else, no CDN', async () => {
    const res = await fetch(`${baseUrl}/docs`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const csp = res.headers.get('content-security-policy')!
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("connect-src 'self'")
    const html = await res.text()
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
    expect(urls.length).toBeGreaterThanOrEqual(4)
    for (const url of urls) expect(url).toStartWith('/')
    expect(html).not.toMatch(/unpkg|jsdelivr|cdn\.|googleapis|scalar\.com/)
  })

  test('serves the embedded Swagger UI assets with long-lived cache headers', async () => {
    const html = await (await fetch(`${baseUrl}/docs`)).text()
    const assets = [...html.matchAll(/(?:src|href)="(\/docs\/assets\/[^"]+)"/g)].map((m) => m[1]!)
    expect(assets.length).toBe(4)
    for (const asset of assets) {
      const res = await fetch(`${baseUrl}${asset}`)
      expect(res.status, asset).toBe(200)
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
      const body = await res.arrayBuffer()
      expect(body.byteLength).toBeGreaterThan(100)
      if (asset.includes('.js')) expect(res.headers.get('content-type')).toStartWith('text/javascript')
      if (asset.includes('.css')) expect(res.headers.get('content-type')).toStartWith('text/css')
    }
    const init = await (await fetch(`${baseUrl}/docs/assets/init.js`)).text()
    // Swagger UI's validator badge would call validator.swagger.io.
    expect(init).toContain('validatorUrl: null')
    const missing = await fetch(`${baseUrl}/docs/assets/nope.js`)
    expect(missing.status).toBe(404)
    expect(missing.headers.get('content-type')).toStartWith('application/problem+json')
  })

  test('lists every problem type the server emits under the anchor its type URI names', async () => {
    const html = await (await fetch(`${baseUrl}/docs`)).text()
    const anchors = new Set([...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]))
    const missing = (Object.keys(ERROR_CODES) as ErrorCode[])
      .map((code) => problemType(code))
      .filter((type) => {
        const [path, fragment] = type.split('#')
        return path !== '/docs' || !anchors.has(fragment!)
      })
    expect(missing).toEqual([])
  })
})
