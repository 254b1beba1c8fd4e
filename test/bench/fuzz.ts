/**
 * Hostile-input properties (fast-check) against every route of a harness app: random and hostile
 * methods, paths, ids, query strings, headers, keys and bodies go through `app.handle`, and
 * - no answer is a 5xx, and none takes longer than REQUEST_TIMEOUT_MS;
 * - every error is `application/problem+json` with the problem fields (dashboard HTML pages, and
 *   capture's error page for a plain HTML form, excepted) and never echoes one of our keys;
 * - a rejected request (status ≥ 400) leaves every table exactly as it was;
 * - afterwards the app still serves (`/healthz` 200, a valid inbound lead 201).
 * `test/unit/fuzz.test.ts` runs this with a small count; run it directly for the long version:
 * bun test/bench/fuzz.ts [runs] [seed]
 */
import fc from 'fast-check'
import { createHarness, type Harness } from '../helpers'
import { generateKey } from '../../src/lib/keys'
import { revokeKey } from '../../src/modules/api-keys/service'
import { prefersHtml } from '../../src/modules/capture/service'
import { signIn } from '../../src/modules/sessions/service'
import { printTable } from './lib'

/** An answer slower than this counts as a hang (the CPU-bound kind is measured, the waiting kind timed out). */
const REQUEST_TIMEOUT_MS = 5_000
const ORIGIN = 'http://localhost'
const SHOP = 'https://shop.example.com'

interface Route {
  method: string
  path: string
  examples: Record<string, unknown>[]
}

export interface FuzzRequest {
  method: string
  path: string
  headers: [string, string][]
  body?: string | Uint8Array
  /** What kind of body was sent, for the summary. */
  bodyKind: string
}

/** What the property runs against: a harness app, its keys, real ids of every kind, and a dashboard session. */
export interface FuzzWorld {
  h: Harness
  /** Every route of the app, with the request-body examples its schema documents. */
  routes: Route[]
  keys: { all: string; limited: string; publishable: string; revoked: string; expired: string; foreign: string; unknown: string }
  ids: string[]
  session: { token: string; csrf: string }
  stats: Map<string, number>
}

/** Builds the world: two workspaces with data of every kind, keys of every kind, a session. */
export async function createWorld(): Promise<FuzzWorld> {
  // A huge rate limit, so that 429s do not hide the validation code behind them.
  const h = createHarness({ env: { ASKAD_RATE_LIMIT: '1000000000/60s' } })
  // Webhook URLs resolve to a public documentation address; the harness runs no dispatcher, so nothing is sent.
  h.deps.resolveHost = async () => ['93.184.216.34']
  const a = await h.workspace('fuzz-a')
  const b = await h.workspace('fuzz-b')
  const revoked = await h.key(a.id)
  const keys = {
    all: a.key,
    limited: (await h.key(a.id, { scopes: ['contacts:read'] })).key,
    publishable: (await h.key(a.id, { kind: 'publishable', allowedOrigins: [SHOP] })).key,
    revoked: revoked.key,
    expired: (await h.key(a.id, { expiresAt: h.clock.now() + 1000 })).key,
    foreign: b.key,
    unknown: generateKey('secret'),
  }
  const ids: string[] = []
  for (const [key, workspaceId] of [
    [a.key, a.id],
    [b.key, b.id],
  ] as const) {
    // Keys the fuzzer may revoke without losing the keys it authenticates with.
    for (let i = 0; i < 2; i++) ids.push((await h.key(workspaceId)).id)
    for (let i = 0; i < 3; i++) {
      const lead = await json(h, 'POST', '/api/v1/leads/inbound', key, {
        email: `seed${i}@example.com`,
        first_name: 'Seed',
        source: 'seed',
        metadata: { n: i },
      })
      ids.push(lead.id, lead.contact_id)
    }
    const deal = await json(h, 'POST', '/api/v1/deals', key, { title: 'Seed deal', value: 100, currency: 'USD' })
    const campaign = await json(h, 'POST', '/api/v1/campaigns', key, { name: 'Seed', currency: 'USD', spend_thresholds: [10, 20] })
    for (let i = 0; i < 2; i++) {
      const endpoint = await json(h, 'POST', '/api/v1/webhooks', key, { url: 'https://hooks.example.com/in' })
      const sent = await json(h, 'POST', `/api/v1/webhooks/${endpoint.id}/test`, key)
      ids.push(endpoint.id, sent.delivery_id)
    }
    ids.push(deal.id, campaign.id)
  }
  await revokeKey(h.deps, a.id, revoked.id)
  h.clock.advance(2000) // the expired key has expired
  // Every key has been used once: last_used_at is written at most once a minute and the clock stands still from here on.
  for (const key of Object.values(keys)) await h.request('GET', '/api/v1/contacts', { key })
  const signedIn = await signIn(h.deps, keys.all)
  if ('failure' in signedIn) throw new Error(`sign-in failed: ${signedIn.failure}`)
  type RouteInfo = {
    method: string
    path: string
    hooks?: { body?: { examples?: Record<string, unknown>[]; anyOf?: { examples?: Record<string, unknown>[] }[] } }
  }
  const routes = (h.app.routes as RouteInfo[]).map(({ method, path, hooks }) => ({
    method,
    path,
    examples: hooks?.body?.examples ?? hooks?.body?.anyOf?.flatMap((s) => s.examples ?? []) ?? [],
  }))
  return { h, routes, keys, ids, session: { token: signedIn.token, csrf: signedIn.session.csrfToken }, stats: new Map() }
}

async function json(h: Harness, method: string, path: string, key: string, body?: unknown) {
  const res = await h.request(method, path, { key, body })
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status}: ${await res.text()}`)
  return res.json()
}

// ---------------------------------------------------------------------------------------------
// Hostile values
// ---------------------------------------------------------------------------------------------

const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDFFF\uD800',
  '\uFEFF',
  '\u202Egnp.exe',
  '🙂'.repeat(50),
  'e\u0301',
  'İ',
  'ß',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '__defineGetter__',
  "' OR 1=1 --",
  '"; DROP TABLE contacts; --',
  '%',
  '%00',
  '%ZZ',
  '%E0%A4%A',
  '%2e%2e%2f',
  '../../etc/passwd',
  '..',
  '.',
  '//evil.example',
  '<script>alert(1)</script>',
  '${7*7}',
  '{{7*7}}',
  'javascript:alert(1)',
  'data:text/html,x',
  'http://[::1]/',
  'https://127.0.0.1/',
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '1e308',
  '1e999',
  '-1e308',
  '0x10',
  '1_000',
  '1,000.00',
  '19.999',
  '0.1',
  '-1',
  '9007199254740993',
  '00001',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  'won',
  'lost',
  'USD',
  'usd',
  'XXX',
  '*',
  'lead.created',
  'leads:write',
  'jane@example.com',
  ' JANE@EXAMPLE.COM ',
  'a@b',
  '@',
  '+1 555 0100',
  '+',
  '2026-11-01T12:00:00Z',
  '2026-13-45T99:99:99Z',
  '0000-00-00',
  'ask_sk_',
  'ask_pk_',
  'ask_sk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  'whsec_',
  'Bearer',
  'Basic Og==',
  '\r\nX-Injected: 1',
  'a\tb',
  'line\nbreak',
]

const GOOD_VALUES: Record<string, unknown[]> = {
  email: ['jane@example.com', 'john.doe@example.org'],
  phone: ['+1 555 0100', '+44 20 7946 0958'],
  first_name: ['Jane'],
  last_name: ['Smith'],
  name: ['Jane Smith', 'Spring ads'],
  source: ['hubspot', 'website'],
  metadata: [{ plan: 'pro' }, {}],
  currency: ['USD', 'EUR'],
  budget: [5000, '19.99', null],
  spend_thresholds: [[100, 200], []],
  amount: [10, '0.01'],
  total: [1000],
  title: ['Annual plan'],
  value: [4999.99, '10'],
  stage: ['won', 'lost', 'qualified'],
  url: ['https://hooks.example.com/x'],
  events: [['lead.created'], ['*'], []],
  description: ['CRM sync'],
  enabled: [true, false],
  headers: [{ 'x-token': 'abc' }],
  since: ['2026-01-01T00:00:00Z'],
  kind: ['secret', 'publishable'],
  scopes: [['leads:write'], ['contacts:read', 'deals:read']],
  allowed_origins: [[SHOP]],
  rate_limit: [10, null],
  expires_at: ['2030-01-01T00:00:00Z', null],
  page_url: ['https://shop.example.com/pricing'],
  contact_id: [null],
  utm_source: ['google'],
}

const FIELD_NAMES = [
  ...Object.keys(GOOD_VALUES),
  '_key',
  '_redirect',
  '_gotcha',
  '_csrf',
  'next',
  'key',
  '__proto__',
  'constructor',
  'prototype',
  'unknown_field',
]

const hostileString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 300_000 }).map((n) => 'x'.repeat(n)) },
)

const hostileNumber = fc.oneof(
  fc.constantFrom(1e308, -1e308, -0, 0, 1, -1, 0.1, 0.005, 1e-300, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 1e21, 123.456),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
)

/** A JSON value of any type, hostile strings and numbers included. */
const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...FIELD_NAMES), hostileString), tie('value'), { maxKeys: 4 }),
  ),
})).value

/** `{"a":{"a":…}}` or `[[[…]]]` nested `depth` levels: deeper than any recursive code should go. */
function deeplyNested(depth: number, asArray: boolean): string {
  return asArray ? '['.repeat(depth) + ']'.repeat(depth) : `{"metadata":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`
}

/** An object shaped like a request body: known field names with good or hostile values, hostile keys too. */
const bodyObject = fc
  .array(
    fc.tuple(
      fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...FIELD_NAMES) }, { weight: 1, arbitrary: hostileString }),
      fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: hostileValue }),
    ),
    { maxLength: 6 },
  )
  .map((entries) => {
    // Defined, not assigned, so `__proto__` becomes a real key, as JSON.parse makes it.
    const out: Record<string, unknown> = {}
    for (const [k, v] of entries) {
      const good = GOOD_VALUES[k]
      const value = v === undefined && good ? good[Math.abs(hashOf(k + entries.length)) % good.length] : v
      Object.defineProperty(out, k, { value, enumerable: true, configurable: true, writable: true })
    }
    return out
  })

function hashOf(text: string): number {
  return Number(Bun.hash.crc32(text))
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=bogus',
  'APPLICATION/JSON',
  'application/json;charset="',
  'application/vnd.api+json',
  'application/problem+json',
  'text/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-16',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'multipart/form-data; boundary=fuzzfuzz',
  'application/octet-stream',
  'text/html',
  '',
  ';;;',
  '*/*',
  'image/png',
]

const BOUNDARY = 'fuzzfuzz'

function urlencode(fields: Record<string, unknown>): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(fields)) {
    for (const item of Array.isArray(v) ? v : [v]) params.append(k, typeof item === 'string' ? item : (JSON.stringify(item) ?? ''))
  }
  return params.toString()
}

function multipart(fields: Record<string, unknown>): string {
  const parts = Object.entries(fields).map(
    ([k, v]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${typeof v === 'string' ? v : JSON.stringify(v)}\r\n`,
  )
  return `${parts.join('')}--${BOUNDARY}--\r\n`
}

type Body = { body?: string | Uint8Array; contentType?: string; kind: string }

const contentType = fc.constantFrom(...CONTENT_TYPES)

/** Bodies of every kind: JSON objects, malformed JSON, forms, multipart, raw bytes, huge and deep ones, none. */
const body: fc.Arbitrary<Body> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(bodyObject, fc.oneof({ weight: 4, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: contentType }))
      .map(([o, ct]) => ({ body: JSON.stringify(o), contentType: ct, kind: 'json' })),
  },
  { weight: 2, arbitrary: hostileValue.map((v) => ({ body: JSON.stringify(v) ?? '', contentType: 'application/json', kind: 'json-any' })) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        '{',
        '{"email":',
        '{"a":1,}',
        "{'a':1}",
        'NaN',
        '1e999',
        '"\\ud800"',
        '\u0000',
        '{"email":"a@b.c"}garbage',
        '[]',
        'null',
        '""',
        '{"__proto__":{"isAdmin":true},"email":"p@example.com"}',
        '{"email":"a@b.c","email":"x"}',
      )
      .chain((text) => contentType.map((ct) => ({ body: text, contentType: ct, kind: 'json-malformed' }))),
  },
  { weight: 3, arbitrary: bodyObject.map((o) => ({ body: urlencode(o), contentType: 'application/x-www-form-urlencoded', kind: 'form' })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('%ZZ&&==', 'a=%E0%A4%A&b', '=&=&', 'email=%00@x.y&email=b@c.d', `_key=${'%41'.repeat(500)}`)
      .map((text) => ({ body: text, contentType: 'application/x-www-form-urlencoded', kind: 'form-malformed' })),
  },
  { weight: 2, arbitrary: bodyObject.map((o) => ({ body: multipart(o), contentType: `multipart/form-data; boundary=${BOUNDARY}`, kind: 'multipart' })) },
  { weight: 1, arbitrary: fc.tuple(bodyObject, contentType).map(([o, ct]) => ({ body: multipart(o), contentType: ct, kind: 'multipart-bogus' })) },
  { weight: 2, arbitrary: fc.tuple(fc.uint8Array({ maxLength: 200 }), contentType).map(([bytes, ct]) => ({ body: bytes, contentType: ct, kind: 'bytes' })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        new Uint8Array([0x7b, 0x22, 0x65, 0x6d, 0x61, 0x69, 0x6c, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), // {"email":"<invalid UTF-8>"}
        new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"email":"bom@example.com"}')]),
        new Uint8Array(Buffer.from('{"email":"utf16@example.com"}', 'utf16le')),
        new Uint8Array([0xed, 0xa0, 0x80]), // an encoded lone surrogate
      )
      .map((bytes) => ({ body: bytes, contentType: 'application/json', kind: 'bytes-utf8' })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.oneof(fc.integer({ min: 25, max: 40 }), fc.integer({ min: 1000, max: 400_000 })), fc.boolean())
      .map(([depth, asArray]) => ({ body: deeplyNested(depth, asArray), contentType: 'application/json', kind: 'deep' })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(1024 * 1024 - 100, 1024 * 1024 + 1, 3 * 1024 * 1024).map((size) => ({
      body: JSON.stringify({ email: 'big@example.com', metadata: { blob: 'x'.repeat(size) } }),
      contentType: 'application/json',
      kind: 'huge',
    })),
  },
  { weight: 1, arbitrary: contentType.map((ct) => ({ body: '', contentType: ct, kind: 'empty' })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' }) },
)

/** One of the examples with up to two fields changed to hostile values, dropped, or added; sent as JSON or a form. */
function mutatedExample(examples: Record<string, unknown>[]): fc.Arbitrary<Body> {
  // A change names an example field by index (to replace or drop it) or a new field (to add it).
  const field = fc.oneof({ weight: 3, arbitrary: fc.nat(20) }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...FIELD_NAMES), hostileString) })
  const change = fc.tuple(field, fc.oneof({ weight: 3, arbitrary: hostileValue }, { weight: 1, arbitrary: fc.constant(undefined) }))
  return fc.tuple(fc.constantFrom(...examples), fc.array(change, { maxLength: 2 }), fc.nat(9)).map(([example, changes, encoding]) => {
    const out: Record<string, unknown> = { ...example }
    for (const [which, value] of changes) {
      const names = Object.keys(example)
      const name = typeof which === 'number' ? names[which % names.length]! : which
      if (value === undefined) delete out[name]
      else Object.defineProperty(out, name, { value, enumerable: true, configurable: true, writable: true })
    }
    if (encoding === 0) return { body: urlencode(out), contentType: 'application/x-www-form-urlencoded', kind: 'example-form' }
    if (encoding === 1) return { body: multipart(out), contentType: `multipart/form-data; boundary=${BOUNDARY}`, kind: 'example-multipart' }
    return { body: JSON.stringify(out), contentType: 'application/json', kind: changes.length ? 'example-mutated' : 'example' }
  })
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

const METHODS = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'HEAD', 'OPTIONS']

/** A header value as HTTP allows it (Latin-1, no line breaks or NUL), possibly very long. */
const headerValue = fc.oneof(
  { weight: 4, arbitrary: hostileString.map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?')) },
  { weight: 1, arbitrary: fc.integer({ min: 8_000, max: 64_000 }).map((n) => 'h'.repeat(n)) },
)

export function requestArbitrary(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const { keys, ids, session } = world
  // The API's routes twice, so that they get most of the traffic; the dashboard's catch-all is reached by random paths.
  const routes = world.routes.filter((r) => r.path !== '/dashboard/*').flatMap((r) => (r.path.startsWith('/api/') ? [r, r] : [r]))
  const tamper = (key: string) => key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A')
  const presentedKey = fc.oneof(
    { weight: 12, arbitrary: fc.constant(keys.all) },
    { weight: 2, arbitrary: fc.constantFrom(keys.limited, keys.publishable, keys.foreign) },
    { weight: 2, arbitrary: fc.constantFrom(keys.revoked, keys.expired, keys.unknown, tamper(keys.all), keys.all.toUpperCase(), `${keys.all} ${keys.all}`) },
    { weight: 2, arbitrary: headerValue },
  )
  const authorization = fc.oneof(
    { weight: 8, arbitrary: presentedKey.map((k) => `Bearer ${k}`) },
    { weight: 1, arbitrary: presentedKey.map((k) => `Basic ${btoa(`${k.replace(/[^\x00-\xff]/g, '')}:`)}`) },
    { weight: 1, arbitrary: presentedKey.map((k) => k) },
    { weight: 1, arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'Basic !!!', 'Token x', `bearer\t\t${keys.all}`) },
  )
  const id = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...ids) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 3, arbitrary: hostileString.map((s) => encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, '?'))) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '%',
        '%ZZ',
        '%E0%A4%A',
        '%00',
        '..',
        '%2F',
        'a/b',
        '?',
        '#',
        '%C0%AE',
        'constructor',
        '__proto__',
        'toString',
        'hasOwnProperty',
      ),
    },
  )
  const path = fc.oneof(
    {
      weight: 9,
      arbitrary: fc
        .constantFrom(...routes)
        .chain((route) => {
          const holes = route.path.match(/:\w+/g) ?? []
          return fc.tuple(
            fc.constant(route),
            fc.array(id, { minLength: holes.length, maxLength: holes.length }),
            fc.oneof({ weight: 5, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
          )
        })
        .map(([route, values, method]) => {
          let i = 0
          return { method, path: route.path.replace(/:\w+/g, () => values[i++]!), examples: route.examples }
        }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(...METHODS),
          fc.constantFrom(
            '/api/v1',
            '/api/v1/',
            '/api/v2/leads',
            '/api/v1/leads/inbound/',
            '/API/V1/LEADS',
            '//api/v1/contacts',
            '/api/v1/../healthz',
            '/dashboard/nope',
            '/docs/assets/..%2f..%2fpackage.json',
            '/metrics/',
            '/healthz?x',
          ),
          id,
        )
        .map(([method, p, extra]) => ({ method, path: p.endsWith('/') ? `${p}${extra}` : p, examples: [] as Record<string, unknown>[] })),
    },
  )
  const queryParam = fc.tuple(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          'page',
          'limit',
          'after',
          'email',
          'source',
          'updated_since',
          'created_since',
          'stage',
          'status',
          'contact_id',
          'key',
          'next',
          'done',
          '__proto__',
          'constructor',
          'page[]',
        ),
      },
      { weight: 1, arbitrary: hostileString },
    ),
    fc.oneof(
      {
        weight: 2,
        arbitrary: fc.constantFrom('1', '0', '-1', '200', '201', '10000001', '1.5', '1e3', ' 1', 'NaN', keys.publishable, 'czo1', 'czo5OTk5OTk5OTk5OTk5OTk5OQ'),
      },
      { weight: 2, arbitrary: hostileString },
    ),
  )
  const query = fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    {
      weight: 4,
      arbitrary: fc
        .array(queryParam, { maxLength: 5 })
        .map((pairs) =>
          pairs.length
            ? `?${new URLSearchParams(pairs.map(([k, v]) => [k.replace(/[\uD800-\uDFFF]/g, '?'), v.replace(/[\uD800-\uDFFF]/g, '?')])).toString()}`
            : '',
        ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '?page=1&page=2',
        '?limit=%ZZ',
        '?&&&',
        '?=',
        '?page',
        '?key=%00',
        '?after=%E0%A4%A',
        `?key=${keys.publishable}&key=${keys.all}`,
        `?${'a=1&'.repeat(2000)}`,
      ),
    },
  )
  /** Each optional header is sent on about one request in `rarity`. */
  const sometimes = <T>(arbitrary: fc.Arbitrary<T>, rarity = 6) => fc.oneof({ weight: rarity - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary })
  const extraHeaders = fc.record({
    origin: sometimes(fc.constantFrom(SHOP, ORIGIN, 'https://evil.example', 'null', '', 'not a url')),
    cookie: fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) },
      { weight: 3, arbitrary: fc.constant(`askad_session=${session.token}`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'askad_session=bogus',
          `askad_session=${session.token}; askad_session=x`,
          '=;=;',
          `askad_session=${session.token.toUpperCase()}`,
        ),
      },
    ),
    'x-csrf-token': sometimes(fc.constantFrom(session.csrf, 'wrong', '')),
    'idempotency-key': sometimes(fc.oneof(fc.constantFrom('fuzz-1', 'fuzz-2', '', 'x'.repeat(256)), fc.uuid()), 4),
    'x-request-id': sometimes(headerValue),
    'x-forwarded-for': sometimes(fc.constantFrom('1.2.3.4', '::1', 'garbage, 10.0.0.1', '')),
    referer: sometimes(fc.constantFrom(`${SHOP}/landing`, 'https://evil.example/', 'not a url')),
    accept: sometimes(fc.constantFrom('text/html', 'application/json', '*/*', 'text/html;q=0, */*')),
    'user-agent': sometimes(headerValue),
    'x-fuzz': sometimes(headerValue, 10),
    'content-length': sometimes(fc.constantFrom('0', '5', '99999999', '-1', 'abc'), 15),
  })
  // Most requests carry the full key, or the validation code behind auth would rarely run.
  const auth = fc.oneof(
    { weight: 6, arbitrary: fc.constant(`Bearer ${keys.all}`) },
    { weight: 3, arbitrary: authorization },
    { weight: 1, arbitrary: fc.constant(undefined) },
  )
  // A route's documented example, slightly broken, gets past validation far more often than a random object.
  const targetAndBody = path.chain((target) =>
    fc.tuple(
      fc.constant(target),
      target.examples.length ? fc.oneof({ weight: 1, arbitrary: body }, { weight: 1, arbitrary: mutatedExample(target.examples) }) : body,
    ),
  )
  return fc
    .record({ targetAndBody, query, headers: extraHeaders, authorization: auth, captureKey: fc.boolean(), csrfField: fc.boolean() })
    .map(({ targetAndBody: [target, body], ...rest }) => ({ target, body, ...rest }))
    .map(({ target, query, headers, authorization, body, captureKey, csrfField }) => {
      const list = Object.entries({ ...headers, authorization }).filter((entry): entry is [string, string] => entry[1] !== undefined)
      let payload = body.body
      if (body.contentType !== undefined && payload !== undefined) list.push(['content-type', body.contentType])
      // Forms carry their keys and tokens in fields: the capture key, the dashboard's CSRF token.
      if (typeof payload === 'string' && body.kind === 'form') {
        const extras = [captureKey ? `_key=${keys.publishable}` : '', csrfField ? `_csrf=${session.csrf}` : ''].filter(Boolean)
        payload = [payload, ...extras].filter(Boolean).join('&')
      }
      const hasBody = target.method !== 'GET' && target.method !== 'HEAD' && payload !== undefined
      const request: FuzzRequest = {
        method: target.method,
        path: target.path + query,
        headers: list,
        body: hasBody ? payload : undefined,
        bodyKind: hasBody ? body.kind : 'none',
      }
      // fast-check prints counterexamples with this: shortened, so a 1 MiB body does not flood the report.
      return Object.assign(request, { [fc.toStringMethod]: () => describe(request) })
    })
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/** Row count and an order-independent hash of every row, per table: equal exactly when nothing is stored differently. */
export function fingerprint(h: Harness): string {
  const sqlite = h.db.$client
  const tables = sqlite.query<{ name: string }, []>("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").all()
  return tables
    .map(({ name }) => {
      let sum = 0n
      let count = 0
      for (const row of sqlite.query(`select * from "${name}"`).values()) {
        sum = (sum + Bun.hash(JSON.stringify(row, (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)))) & 0xffffffffffffffffn
        count++
      }
      return `${name}:${count}:${sum.toString(16)}`
    })
    .join(' ')
}

/** Rows changed on the connection so far; a cheap way to know that the fingerprint cannot have moved. */
function totalChanges(h: Harness): number {
  return h.db.$client.query<{ n: number }, []>('select total_changes() as n').get()!.n
}

function toRequest(r: FuzzRequest): Request | null {
  try {
    return new Request(`${ORIGIN}${r.path}`, { method: r.method, headers: r.headers, body: r.body as BodyInit | undefined })
  } catch {
    return null // not expressible as an HTTP request (the client refuses to build it)
  }
}

function describe(r: FuzzRequest): string {
  const body = r.body === undefined ? '' : typeof r.body === 'string' ? r.body : `bytes ${Buffer.from(r.body).toString('hex')}`
  const short = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s)
  return `${r.method} ${short(r.path)}\n${r.headers.map(([k, v]) => `${k}: ${short(v)}`).join('\n')}\n\n${short(body)}`
}

/** Sends one request and checks every property on its answer; throws with the request on a violation. */
export async function checkRequest(world: FuzzWorld, state: { changes: number; fingerprint: string }, r: FuzzRequest): Promise<void> {
  const request = toRequest(r)
  if (!request) {
    world.stats.set('unsendable', (world.stats.get('unsendable') ?? 0) + 1)
    return
  }
  const fail = (why: string) => {
    throw new Error(`${why}\n--- request ---\n${describe(r)}`)
  }
  let timer: Timer | undefined
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS)),
  )
  let res: Response
  let text: string
  const started = performance.now()
  try {
    ;[res, text] = await Promise.race([
      (async () => {
        const answer = await world.h.app.handle(request)
        return [answer, await answer.text()] as [Response, string]
      })(),
      timeout,
    ])
  } catch (error) {
    return fail(`the request failed: ${(error as Error).message}`)
  } finally {
    clearTimeout(timer)
  }
  await Bun.sleep(0)
  const elapsed = performance.now() - started
  if (elapsed > REQUEST_TIMEOUT_MS) fail(`took ${Math.round(elapsed)} ms (status ${res.status})`)
  const bucket = `${Math.floor(res.status / 100)}xx`
  world.stats.set(bucket, (world.stats.get(bucket) ?? 0) + 1)
  world.stats.set(`status ${res.status}`, (world.stats.get(`status ${res.status}`) ?? 0) + 1)

  if (res.status >= 500) fail(`status ${res.status}: ${text}`)
  if (!res.headers.get('x-request-id')) fail(`no X-Request-Id on a ${res.status}`)
  const type = res.headers.get('content-type') ?? ''
  const dashboardPage = new URL(request.url).pathname.startsWith('/dashboard') && type.startsWith('text/html')
  // A plain HTML form's refused capture is shown a page, not problem+json (docs/capture.md).
  const captureFormPage =
    request.method === 'POST' &&
    new URL(request.url).pathname.replace(/\/$/, '') === '/api/v1/leads/capture' &&
    /^(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i.test(request.headers.get('content-type') ?? '') &&
    prefersHtml(request.headers.get('accept'))
  if (res.status >= 400 && captureFormPage) {
    if (!type.startsWith('text/html') || !text.includes('Your details were not sent'))
      fail(`a plain form's ${res.status} is not the error page: ${type} ${text.slice(0, 500)}`)
  } else if (res.status >= 400 && !dashboardPage && r.method !== 'HEAD') {
    if (!type.startsWith('application/problem+json')) fail(`a ${res.status} with content-type '${type}': ${text.slice(0, 500)}`)
    let problem: Record<string, unknown>
    try {
      problem = JSON.parse(text)
    } catch {
      return fail(`a ${res.status} whose body is not JSON: ${text.slice(0, 500)}`)
    }
    for (const field of ['type', 'title', 'detail', 'request_id']) if (typeof problem[field] !== 'string') fail(`problem field '${field}' missing: ${text}`)
    if (problem.status !== res.status) fail(`problem status ${problem.status} on a ${res.status}`)
    if (problem.request_id !== res.headers.get('x-request-id')) fail('problem request_id differs from X-Request-Id')
    const errors = problem.errors
    if (errors !== undefined && !(Array.isArray(errors) && errors.every((e) => typeof e?.path === 'string' && typeof e?.message === 'string'))) {
      fail(`malformed errors list: ${text}`)
    }
  }
  if (res.status >= 400) {
    for (const key of Object.values(world.keys)) if (text.includes(key)) fail(`a ${res.status} echoes an API key: ${text.slice(0, 500)}`)
  }

  const changes = totalChanges(world.h)
  if (changes === state.changes) return
  const after = fingerprint(world.h)
  if (res.status >= 400 && after !== state.fingerprint) {
    fail(`a rejected request (${res.status}) changed stored data:\nbefore ${state.fingerprint}\nafter  ${after}\n${text.slice(0, 500)}`)
  }
  state.changes = changes
  state.fingerprint = after
}

/** Afterwards the app must still answer: health, and a valid lead. */
export async function checkStillServes(world: FuzzWorld): Promise<void> {
  const health = await world.h.request('GET', '/healthz')
  if (health.status !== 200) throw new Error(`/healthz answered ${health.status}`)
  const lead = await world.h.request('POST', '/api/v1/leads/inbound', { key: world.keys.all, body: { email: `after-fuzz-${Date.now()}@example.com` } })
  if (lead.status !== 201) throw new Error(`a valid inbound lead got ${lead.status}: ${await lead.text()}`)
}

export interface FuzzResult {
  seed: number
  runs: number
  seconds: number
  stats: Map<string, number>
}

/** Runs the property `runs` times from `seed` (reproducible), then checks the app still serves. */
export async function runFuzz(options: { seed: number; runs: number; world?: FuzzWorld }): Promise<FuzzResult> {
  const world = options.world ?? (await createWorld())
  const state = { changes: totalChanges(world.h), fingerprint: fingerprint(world.h) }
  const started = performance.now()
  await fc.assert(
    fc.asyncProperty(requestArbitrary(world), async (r) => {
      world.stats.set(`body ${r.bodyKind}`, (world.stats.get(`body ${r.bodyKind}`) ?? 0) + 1)
      await checkRequest(world, state, r)
    }),
    { seed: options.seed, numRuns: options.runs, endOnFailure: true },
  )
  await checkStillServes(world)
  if (!options.world) world.h.close()
  return { seed: options.seed, runs: options.runs, seconds: (performance.now() - started) / 1000, stats: world.stats }
}

/** The summary table of a run. */
export function statsRows(result: FuzzResult): Record<string, string | number>[] {
  return [...result.stats.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([what, count]) => ({ what, count }))
}

if (import.meta.main) {
  const runs = Number(process.argv[2] ?? 20_000)
  const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31)
  console.log(`fuzz: seed ${seed}, ${runs} runs (reproduce: bun test/bench/fuzz.ts ${runs} ${seed})`)
  const result = await runFuzz({ seed, runs })
  printTable(`fuzz: ${result.runs} requests in ${result.seconds.toFixed(1)} s (${Math.round(result.runs / result.seconds)}/s), seed ${seed}`, statsRows(result))
  process.exit(0)
}
