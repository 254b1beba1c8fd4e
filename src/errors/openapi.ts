/** OpenAPI description of problem-details errors, so every route can declare what it may answer. */
import { t } from 'elysia'

export const Problem = t.Object(
  {
    type: t.String({ description: 'URI reference naming the problem type.' }),
    title: t.String(),
    status: t.Integer(),
    detail: t.String({ description: 'What went wrong with this request, for humans.' }),
    request_id: t.String({ description: 'Same as the X-Request-Id header; quote it when asking for help.' }),
    errors: t.Optional(t.Array(t.Object({ path: t.String({ description: "JSON Pointer into the body ('/email') or 'query.<name>'." }), message: t.String() }))),
  },
  { $id: '#/components/schemas/Problem', title: 'Problem', description: 'RFC 9457 problem details (application/problem+json).' },
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

/** Response schemas for the given error statuses (all share the Problem shape). */
export function problems(...statuses: (keyof typeof DESCRIPTIONS)[]) {
  return Object.fromEntries(statuses.map((s) => [s, t.Object(Problem.properties, { description: DESCRIPTIONS[s] })])) as Record<number, typeof Problem>
}

/** The errors every authenticated request can get. */
export const AUTH_ERRORS = [401, 403, 429] as const
/** The errors every authenticated request with a JSON body can get. */
export const BODY_ERRORS = [400, 401, 403, 413, 415, 422, 429] as const
