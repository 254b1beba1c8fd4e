/**
 * OpenAPI description of problem-details errors, so every route can declare what it may answer.
 *
 * How a route comes out right in /openapi.json (plugins/openapi-document.ts does the rest):
 * - `detail: { operationId: 'verbNoun', summary, description }`: a camelCase operationId, stable
 *   (clients name their methods after it), unique; `tags` from the module (`new Elysia({ tags: ['Leads'] })`),
 *   one of the document's TAGS (plugins/openapi-document.ts), where a new area adds its tag and description.
 * - `response: { 200: Model.item, ...problems(...AUTH_ERRORS, 404) }`: each error status gets the
 *   Problem schema and a realistic example of the problem the server sends (PROBLEM_EXAMPLES below).
 * - Name the module's main schemas with `component('Thing', t.Object(…))` (lib/model-fields.ts): the
 *   document then refers to `#/components/schemas/Thing`, and a list of a named item is `ThingList`.
 * - Integers: `t.Integer()` (a string|integer union in Elysia) is documented as `type: integer`;
 *   a number in the query string is `queryInteger(…)` (lib/model-fields.ts).
 * - Response headers come from the route's shape: rate-limit headers and `X-Request-Id` on every API
 *   answer, `Link` on lists, `Location` on 201 (`detail: { [LOCATION_EXTENSION]: false }` when a 201 sends
 *   none), `Idempotent-Replayed` on POSTs, `Retry-After` on 429/503, `WWW-Authenticate` on 401.
 */
import { t } from 'elysia'
import { component } from '../lib/model-fields'
import { API_AUTH_FAILURES, missingScope } from './messages'
import { ERROR_CODES, type ErrorCode, type FieldError, problemType } from '.'

export const Problem = component(
  'Problem',
  t.Object(
    {
      type: t.String({ description: 'URI reference naming the problem type; each has a section on /docs.' }),
      title: t.String(),
      status: t.Integer(),
      detail: t.String({ description: 'What went wrong with this request, for humans.' }),
      request_id: t.String({ description: 'Same as the X-Request-Id header; quote it when asking for help.' }),
      errors: t.Optional(
        t.Array(t.Object({ path: t.String({ description: "JSON Pointer into the body ('/email') or 'query.<name>'." }), message: t.String() })),
      ),
    },
    { title: 'Problem', description: 'RFC 9457 problem details (application/problem+json).' },
  ),
)

/** What each problem status means in the OpenAPI document, for routes that declare it. */
const DESCRIPTIONS = {
  400: 'Malformed request (e.g. invalid JSON).',
  401: 'Missing, malformed, unknown, expired or revoked API key.',
  403: 'The key lacks the scope, or the origin is not allowed.',
  404: 'No such item in this workspace.',
  405: 'The method is not allowed here.',
  409: 'Conflict, e.g. the same Idempotency-Key is still in flight.',
  413: 'Body larger than 1 MiB.',
  415: 'Unsupported Content-Type.',
  422: 'The body or query failed validation; `errors` lists each path.',
  429: 'Rate limit exceeded; see Retry-After.',
} as const

/** Answers every POST under /api/v1 may give besides its own, because of Idempotency-Key and storage (added by the docs plugin). */
export const POST_PROBLEMS: Record<number, string> = {
  409: 'A request with the same Idempotency-Key is still in flight.',
  422: 'Validation failed, or the Idempotency-Key was used with a different request.',
  503: 'The database cannot take the write now (locked by another process, read-only, disk full, I/O error); see Retry-After and `detail`.',
}

/** The JSON Schema reference every problem response of the OpenAPI document points to. */
export const PROBLEM_REF = { $ref: '#/components/schemas/Problem' }

/** OpenAPI extension of a route's `detail`: false when its 201 answer carries no `Location` (the default documents one). */
export const LOCATION_EXTENSION = 'x-location'

/** Response schemas for the given error statuses (all share the Problem shape). */
export function problems(...statuses: (keyof typeof DESCRIPTIONS)[]) {
  return Object.fromEntries(statuses.map((s) => [s, t.Object(Problem.properties, { description: DESCRIPTIONS[s] })])) as Record<number, typeof Problem>
}

/** The errors every authenticated request can get. */
export const AUTH_ERRORS = [401, 403, 429] as const
/** The errors every authenticated request with a JSON body can get. */
export const BODY_ERRORS = [400, 401, 403, 413, 415, 422, 429] as const

/** What the document knows of an operation when it writes its problem examples. */
export interface ExampleContext {
  method: string
  /** OpenAPI path (`/api/v1/contacts/{id}`). */
  path: string
  /** The scope the route requires, if any. */
  scope?: string
  /** The first property of the request body, for a realistic validation error. */
  bodyField?: string
}

const EXAMPLE_REQUEST_ID = '0192f0c4-9a5e-7c3b-8d2a-4f6e1b7a9c01'
const EXAMPLE_ID = '0192f0c4-0000-7000-8000-000000000000'

/** One problem as the server sends it (plugins/errors.ts), for an example. */
function problem(code: ErrorCode, detail: string, errors?: FieldError[]) {
  const { status, title } = ERROR_CODES[code]
  return { type: problemType(code), title, status, detail, request_id: EXAMPLE_REQUEST_ID, ...(errors ? { errors } : {}) }
}

/** The item a path's last `{param}` names: `/webhooks/{id}/deliveries/{did}` → 'delivery'. */
function itemName(path: string): string {
  const segments = path.split('/')
  const param = segments.findLastIndex((s) => s.startsWith('{'))
  const plural = (segments[param - 1] ?? 'item').replaceAll('-', ' ')
  return plural.replace(/ies$/, 'y').replace(/s$/, '')
}

/** The validation error an operation realistically answers: its body's first field, else the page size. */
function validation(op: ExampleContext) {
  const [path, message] = op.bodyField ? [`/${op.bodyField}`, 'Expected string'] : ['query.limit', 'must be between 1 and 200']
  return problem('validation_failed', `The request ${op.bodyField ? 'body' : 'query'} is invalid: ${path}: ${message}`, [{ path, message }])
}

/**
 * Named examples per error status, drawn from the problem types the server really sends; a status
 * with more than one cause (403, 409, 422) shows each. Keys are the problem codes.
 */
export const PROBLEM_EXAMPLES: Record<number, (op: ExampleContext) => Partial<Record<ErrorCode, ReturnType<typeof problem>>>> = {
  400: (op) =>
    op.bodyField
      ? { malformed_json: problem('malformed_json', 'The request body could not be parsed.') }
      : { bad_request: problem('bad_request', 'The URL contains a NUL character (%00), which no id, filter or key can hold.') },
  401: () => ({ unauthorized: problem('unauthorized', API_AUTH_FAILURES.unknown) }),
  403: (op) =>
    op.scope
      ? { insufficient_scope: problem('insufficient_scope', missingScope(op.scope)) }
      : { origin_not_allowed: problem('origin_not_allowed', "The origin 'https://other.example' is not on this key's allowed origins.") },
  404: (op) => ({ not_found: problem('not_found', `No ${itemName(op.path)} with id '${EXAMPLE_ID}' in this workspace.`) }),
  405: () => ({ method_not_allowed: problem('method_not_allowed', 'This source takes leads by POST only.') }),
  409: (op) =>
    op.method === 'post'
      ? { idempotency_in_flight: problem('idempotency_in_flight', 'A request with this Idempotency-Key is still being processed; retry once it has finished.') }
      : op.method === 'delete'
        ? { conflict: problem('conflict', 'The contact kept changing while it was being erased; try again.') }
        : { conflict: problem('conflict', "Another contact in this workspace already has the email 'jane@example.com'.") },
  413: () => ({ payload_too_large: problem('payload_too_large', 'Request bodies are limited to 1048576 bytes (1 MiB).') }),
  415: () => ({ unsupported_media_type: problem('unsupported_media_type', "Content-Type 'text/plain' is not supported here; send application/json.") }),
  422: (op) => ({
    validation_failed: validation(op),
    ...(op.method === 'post'
      ? {
          idempotency_mismatch: problem(
            'idempotency_mismatch',
            'This Idempotency-Key was already used for a different request (method, path or body); use a new key for a new request.',
          ),
        }
      : {}),
  }),
  429: () => ({ rate_limited: problem('rate_limited', 'This API key may make 100 requests per 60 s; wait for Retry-After seconds.') }),
  503: () => ({
    unavailable: problem(
      'unavailable',
      'The database is locked by another process (a CLI command, a backup or another server on the same file); retry shortly.',
    ),
  }),
}
