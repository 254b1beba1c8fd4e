/**
 * Assembles the OpenAPI 3.1 document from the app's routes (TypeBox emits JSON Schema 2020-12,
 * which 3.1 speaks). @elysiajs/swagger's walker turns paths and parameters into `paths`; this file
 * then gives each operation what clients need: its declared operationId, true content types, named
 * component schemas (`component(…)`), integers as integers, problem examples per status, documented
 * response headers, and the `webhooks` section. src/errors/openapi.ts says how a route takes part.
 */
import { Kind, type TSchema } from '@sinclair/typebox'
import { LOCATION_EXTENSION, PROBLEM_EXAMPLES, PROBLEM_REF, POST_PROBLEMS, Problem, type ExampleContext } from '../errors/openapi'
import { API_PREFIX } from '../lib/api-prefix'
import { COMPONENT_KEY, DOCUMENTED_AS_KEY } from '../lib/model-fields'
import { VERSION } from '../version'
import { SCOPE_EXTENSION } from './auth'
import { MAX_IDEMPOTENCY_KEY_LENGTH } from './idempotency'
import { isOptionalSchema, swaggerPaths } from './openapi-adapter'
import { acceptsCsv, acceptsForms } from './route-table'

type Json = Record<string, any>

/** The body of each webhook event, for the `webhooks` section (modules/webhooks/events.ts, handed over by app.ts). */
export type EventPayloads = Record<string, { summary: string; body: TSchema }>

/** A route of the app's table, as the document reads it. */
export interface RouteInfo {
  method: string
  path: string
  hooks: Json
}

/** The tags in the order the docs show them: the seed document's areas first (Leads, Contacts, Deals, Webhooks), then askad's own. */
const TAGS: { name: string; description: string }[] = [
  { name: 'Leads', description: 'Submissions from servers (`inbound`) and browsers (`capture`), kept verbatim.' },
  { name: 'Contacts', description: 'People, deduplicated by email or phone within the workspace.' },
  { name: 'Deals', description: 'Opportunities moving through the pipeline stages.' },
  { name: 'Webhooks', description: 'Signed outbound events (Standard Webhooks) and their delivery log; the events are in the `webhooks` section.' },
  { name: 'Sources', description: "Inbound URLs with their own token, for tools that cannot send a header or askad's JSON." },
  { name: 'Campaigns', description: 'Budgets and spend, with alerts when thresholds are crossed.' },
  { name: 'API keys', description: 'Secret and publishable keys of the workspace.' },
  { name: 'Audit log', description: 'Who did what in the workspace: keys, endpoints, erasures, exports; kept forever.' },
  { name: 'Operations', description: 'Health and monitoring endpoints for operators; no API key needed.' },
]

const STATUS_DESCRIPTIONS: Record<string, string> = {
  200: 'OK.',
  201: 'Created.',
  202: 'Accepted.',
  204: 'No content.',
  303: 'See other.',
}

const HTTP_METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD'])

const integerHeader = (description: string) => ({ description, schema: { type: 'integer', minimum: 0 } })
const textHeader = (description: string, example: string) => ({ description, schema: { type: 'string' }, example })

/** Response headers the server sends (plugins/rate-limit.ts, request-context, pagination, idempotency, errors), in `components.headers`. */
const HEADERS: Record<string, Json> = {
  'X-Request-Id': textHeader('Identifies this request in the server log; the same as `request_id` in a problem.', '0192f0c4-9a5e-7c3b-8d2a-4f6e1b7a9c01'),
  'X-RateLimit-Limit': integerHeader("Requests the bucket holds (the key's limit per window)."),
  'X-RateLimit-Remaining': integerHeader('Requests left in the bucket now.'),
  'X-RateLimit-Reset': integerHeader('Unix time (seconds) when the bucket is full again.'),
  'RateLimit-Policy': textHeader('IETF draft: the policy, `"<bucket>";q=<capacity>;w=<window seconds>`.', '"default";q=100;w=60'),
  RateLimit: textHeader('IETF draft: `"<bucket>";r=<remaining>;t=<seconds until full>`.', '"default";r=99;t=1'),
  'Retry-After': integerHeader('Seconds to wait before retrying.'),
  Link: textHeader('RFC 8288 links to the first, previous, next and last pages (or the next one by cursor).', '</api/v1/contacts?page=2&limit=50>; rel="next"'),
  Location: {
    description: 'The URL of the item created.',
    schema: { type: 'string', format: 'uri-reference' },
    example: '/api/v1/deals/0192f0c4-0000-7000-8000-000000000000',
  },
  'Idempotent-Replayed': {
    description: 'Present (`true`) when this is the stored answer to an earlier request with the same Idempotency-Key.',
    schema: { type: 'string', enum: ['true'] },
  },
  'WWW-Authenticate': textHeader('RFC 6750 challenge; `error="invalid_token"` when a key was sent but refused.', 'Bearer realm="askad", error="invalid_token"'),
}

const RATE_LIMIT_HEADERS = ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'RateLimit-Policy', 'RateLimit']

/** Request header parameters shared by operations, in `components.parameters`. */
const PARAMETERS: Record<string, Json> = {
  'Idempotency-Key': {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    // No example on purpose: Swagger UI would pre-fill it, and every "Try it out" would replay the first answer for 24 h.
    description:
      `Make up a new value for each distinct request (a UUID is ideal), up to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters, and send the same value ` +
      'only when retrying that request. A retry with the same key and the same request within 24 h replays the stored response with ' +
      '`Idempotent-Replayed: true`; a different request is 422; the same key still in flight is 409. The stored response commits with the change, ' +
      'so a retry after a crash either replays it or runs the request once. Keys belong to the API key; on a publishable key also to the browser ' +
      '(client IP and User-Agent), so visitors never share them.',
    schema: { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH },
  },
  'webhook-id': {
    name: 'webhook-id',
    in: 'header',
    required: true,
    description: 'The event id (`msg_…`), the same on every attempt: dedupe on it.',
    schema: { type: 'string' },
    example: 'msg_0192f0c49a5e7c3b8d2a4f6e1b7a9c01',
  },
  'webhook-timestamp': {
    name: 'webhook-timestamp',
    in: 'header',
    required: true,
    description: 'Unix time (seconds) of this attempt; refuse values far from your clock (Standard Webhooks libraries allow 5 minutes).',
    schema: { type: 'string', pattern: '^[0-9]+$' },
    example: '1764676800',
  },
  'webhook-signature': {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description:
      'Space-separated `v1,<base64 HMAC-SHA256>` signatures of `<webhook-id>.<webhook-timestamp>.<body>` with the endpoint secret (two during a ' +
      "secret rotation). Verify with any Standard Webhooks library (`standardwebhooks`, `svix`) given the endpoint's `whsec_…` secret.",
    schema: { type: 'string' },
    example: 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=',
  },
}

const ref = (section: 'headers' | 'parameters' | 'schemas', name: string) => ({ $ref: `#/components/${section}/${name}` })

/** The first element of a JSON Schema `examples` array, for media types and parameters (which take `example`). */
function firstExample(schema: Json | undefined): unknown {
  return Array.isArray(schema?.examples) ? schema.examples[0] : undefined
}

function mediaType(schema: Json | undefined): Json {
  const example = firstExample(schema)
  return example === undefined ? { schema } : { schema, example }
}

/** A plain-data copy of a TypeBox schema (its symbols dropped), or undefined. */
function plain(schema: unknown): Json | undefined {
  return schema === undefined ? undefined : JSON.parse(JSON.stringify(schema))
}

/** A route's response schemas by status; Elysia keeps a lone schema (`response: X`) as itself. */
function declaredResponses(route: RouteInfo): Record<string, unknown> {
  const declared = route.hooks?.response
  if (!declared) return {}
  return Kind in declared ? { 200: declared } : declared
}

/** A list answer: the pagination envelope, which carries a `Link` header. */
function isPage(schema: Json | undefined): boolean {
  return schema?.properties?.data !== undefined && schema.properties.pagination !== undefined
}

/** The response headers an answer of this status sends, as `$ref`s into `components.headers`. */
function responseHeaders(status: number, route: RouteInfo, schema: Json | undefined): Json {
  const api = route.path.startsWith(`${API_PREFIX}/`)
  const names = ['X-Request-Id']
  if (api && (status < 300 || status === 429)) names.push(...RATE_LIMIT_HEADERS)
  if (status === 429 || status === 503) names.push('Retry-After')
  if (status === 401 && api) names.push('WWW-Authenticate')
  if (status === 201 && route.hooks?.detail?.[LOCATION_EXTENSION] !== false) names.push('Location')
  if (status < 300 && isPage(schema)) names.push('Link')
  if (status < 300 && api && route.method === 'POST') names.push('Idempotent-Replayed')
  return Object.fromEntries(names.map((name) => [name, ref('headers', name)]))
}

/** The context of an operation's problem examples: its method, path, scope and first body field. */
function exampleContext(method: string, path: string, route: RouteInfo): ExampleContext {
  const body = plain(route.hooks?.body) as Json | undefined
  const fields = Object.keys(body?.properties ?? {}).filter((name) => !name.startsWith('_'))
  return { method, path, scope: route.hooks?.detail?.[SCOPE_EXTENSION], bodyField: body?.required?.[0] ?? fields[0] }
}

/**
 * An error response: the Problem schema with an example of each problem the status stands for. An
 * example alike for every operation (a 401, a 429) is kept once in `components.examples`.
 */
function problemResponse(status: number, description: string, context: ExampleContext, route: RouteInfo, shared: Json): Json {
  const examples = Object.entries(PROBLEM_EXAMPLES[status]?.(context) ?? {}).map(([code, value]) => {
    const example = { summary: value!.title, value }
    shared[code] ??= example
    return [code, JSON.stringify(shared[code]) === JSON.stringify(example) ? { $ref: `#/components/examples/${code}` } : example]
  })
  const media: Json = { schema: PROBLEM_REF }
  if (examples.length > 0) media.examples = Object.fromEntries(examples)
  return { description, headers: responseHeaders(status, route, undefined), content: { 'application/problem+json': media } }
}

/** Gives one operation its true content types, responses with headers and examples, shared parameters and security. */
function refineOperation(method: string, path: string, op: Json, route: RouteInfo, examples: Json): void {
  const api = route.path.startsWith(`${API_PREFIX}/`)
  const body = op.requestBody?.content?.['application/json']?.schema
  if (body) {
    const types = acceptsCsv(route)
      ? ['text/csv']
      : acceptsForms(route)
        ? ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data']
        : ['application/json']
    const optional = isOptionalSchema(route.hooks?.body)
    op.requestBody = { required: !optional, content: Object.fromEntries(types.map((type) => [type, mediaType(body)])) }
  }
  const parameters = ((op.parameters ?? []) as Json[]).map((parameter) => {
    const { examples, ...rest } = parameter
    if (rest.description === undefined) delete rest.description
    const documented = rest.schema?.[DOCUMENTED_AS_KEY]
    if (documented) rest.schema = documented
    const example = Array.isArray(examples) ? examples[0] : firstExample(rest.schema)
    return example === undefined ? rest : { ...rest, example }
  })
  // The gate refuses a NUL in any URL before routing (plugins/auth.ts), on every path.
  op.responses['400'] ??= { description: 'The URL contains a NUL character (%00).' }
  if (route.method === 'POST' && api) {
    parameters.push(ref('parameters', 'Idempotency-Key'))
    for (const [status, description] of Object.entries(POST_PROBLEMS)) op.responses[status] ??= { description }
  }
  if (parameters.length > 0) op.parameters = parameters
  const schemas = declaredResponses(route)
  const context = exampleContext(method, path, route)
  for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
    const declared = plain(schemas[status])
    const walked = response.content ? (Object.values(response.content)[0] as Json).schema : undefined
    const schema = declared ?? walked
    const description = response.description ?? schema?.description ?? STATUS_DESCRIPTIONS[status] ?? `HTTP ${status}.`
    const code = Number(status)
    if (code >= 400) {
      op.responses[status] = problemResponse(code, description, context, route, examples)
    } else if (schema && !['null', 'undefined', 'void'].includes(schema.type)) {
      const type = schema.type === 'string' ? (schema.contentMediaType ?? 'text/plain') : 'application/json'
      op.responses[status] = { description, headers: responseHeaders(code, route, schema), content: { [type]: mediaType(schema) } }
    } else {
      op.responses[status] = { description, headers: responseHeaders(code, route, schema) }
    }
  }
  if (!api) op.security ??= []
}

/** `lead.created` → `leadCreatedWebhook`. */
function webhookOperationId(type: string): string {
  return `${type.replace(/[._]([a-z])/g, (_, letter: string) => letter.toUpperCase())}Webhook`
}

/** The OAS 3.1 `webhooks` section: what askad POSTs to an endpoint for each event type. */
function webhooksSection(events: EventPayloads): Json {
  return Object.fromEntries(
    Object.entries(events).map(([type, { summary, body }]) => [
      type,
      {
        post: {
          operationId: webhookOperationId(type),
          summary,
          description:
            `${body.description ?? summary} askad POSTs it as JSON to every enabled endpoint subscribed to \`${type}\`, signed the Standard Webhooks way: ` +
            'verify the `webhook-signature` before trusting the body. Answer any 2xx within 15 s; other answers and timeouts are retried ' +
            'with backoff, 410 Gone disables the endpoint.',
          tags: ['Webhooks'],
          security: [],
          parameters: ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => ref('parameters', name)),
          requestBody: { required: true, content: { 'application/json': { schema: plain(body) } } },
          responses: { 200: { description: 'Any 2xx answer acknowledges the event; the body is ignored.' } },
        },
      },
    ]),
  )
}

/** Elysia's `t.Integer`/`t.Numeric` accept a numeric string too (`anyOf[string, integer]`); clients must see the number only. */
function numericBranch(schema: Json): Json | undefined {
  const branches = schema.anyOf
  if (!Array.isArray(branches) || branches.length !== 2) return undefined
  const text = branches.find((b: Json) => b.type === 'string' && (b.format === 'integer' || b.format === 'numeric'))
  const number = branches.find((b: Json) => b.type === 'integer' || b.type === 'number')
  if (!text || !number) return undefined
  const { anyOf: _, ...outer } = schema
  return { ...outer, ...number }
}

/**
 * Rewrites every schema under `value` for the document: documented-as schemas swapped in, numeric
 * unions reduced to the number, TypeBox `$id`s dropped (not valid 2020-12 ids), and each named
 * schema moved to `components.schemas` (a `$ref` left in its place). A name given to two different
 * schemas is a mistake in the models, and fails loudly.
 */
function finishSchemas(value: unknown, components: Json): unknown {
  if (Array.isArray(value)) return value.map((item) => finishSchemas(item, components))
  if (!value || typeof value !== 'object') return value
  let node = value as Json
  if (node[DOCUMENTED_AS_KEY]) node = node[DOCUMENTED_AS_KEY]
  node = numericBranch(node) ?? node
  const out: Json = {}
  for (const [key, child] of Object.entries(node)) if (key !== '$id' && key !== COMPONENT_KEY) out[key] = finishSchemas(child, components)
  const name = node[COMPONENT_KEY]
  if (typeof name !== 'string') return out
  if (components[name] && JSON.stringify(components[name]) !== JSON.stringify(out)) {
    throw new Error(`Two different schemas are named '${name}' for the OpenAPI document; give each its own name.`)
  }
  components[name] = out
  return ref('schemas', name)
}

/** Tags of the document: TAGS' order and descriptions, those in use only; an undeclared tag comes last, without a description. */
function documentTags(used: Set<string>): Json[] {
  const known = TAGS.filter((tag) => used.has(tag.name))
  const unknown = [...used].filter((name) => !TAGS.some((tag) => tag.name === name)).sort()
  return [...known, ...unknown.map((name) => ({ name }))]
}

/** Builds the OpenAPI 3.1 document from the app's routes and the docs' introduction. */
export function openApiDocument(routes: RouteInfo[], intro: string, events: EventPayloads = {}): Json {
  const visible = routes.filter((r) => HTTP_METHODS.has(r.method) && r.hooks?.detail?.hide !== true)
  const paths = swaggerPaths(visible, {})
  const byKey = new Map(visible.map((r) => [`${r.method.toLowerCase()} ${r.path.replace(/:(\w+)\??/g, '{$1}')}`, r]))
  const tags = new Set<string>()
  const examples: Json = {}
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item as Record<string, Json>)) {
      refineOperation(method, path, op, byKey.get(`${method} ${path}`) ?? { method: method.toUpperCase(), path, hooks: {} }, examples)
      for (const tag of op.tags ?? []) tags.add(tag)
    }
  }
  const schemas: Json = {}
  finishSchemas(plain(Problem), schemas)
  const finished = finishSchemas({ paths, webhooks: webhooksSection(events) }, schemas) as Json
  return {
    openapi: '3.1.0',
    info: { title: 'askad API', version: VERSION, description: intro, license: { name: 'MIT', identifier: 'MIT' } },
    servers: [{ url: '/', description: 'This askad server' }],
    tags: documentTags(tags),
    security: [{ bearerAuth: [] }],
    paths: finished.paths,
    webhooks: finished.webhooks,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'ask_sk_… / ask_pk_…',
          description: 'A secret key (`ask_sk_…`) or, for browser capture, a publishable key (`ask_pk_…`).',
        },
      },
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      parameters: PARAMETERS,
      headers: HEADERS,
      examples,
    },
  }
}
