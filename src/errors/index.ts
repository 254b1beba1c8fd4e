/**
 * The one error type services throw. Each code maps to an HTTP status and a problem type;
 * plugins/errors.ts turns it into an RFC 9457 problem-details response in one place.
 */
export const ERROR_CODES = {
  bad_request: { status: 400, title: 'Bad request' },
  malformed_json: { status: 400, title: 'Malformed JSON' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  insufficient_scope: { status: 403, title: 'Insufficient scope' },
  origin_not_allowed: { status: 403, title: 'Origin not allowed' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  idempotency_in_flight: { status: 409, title: 'Request in progress' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  validation_failed: { status: 422, title: 'Validation failed' },
  idempotency_mismatch: { status: 422, title: 'Idempotency key reused' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal server error' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const

export type ErrorCode = keyof typeof ERROR_CODES

export interface FieldError {
  path: string
  message: string
}

export class ApiError extends Error {
  readonly status: number
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail)
    this.status = ERROR_CODES[code].status
  }
}

/** Problem type URI for a code; relative so it resolves against the install's own docs. */
export function problemType(code: ErrorCode): string {
  return `/docs#problem-${code.replaceAll('_', '-')}`
}

/** Shorthand for the common 404 that also hides other workspaces' rows. */
export function notFound(what: string, id: string): ApiError {
  return new ApiError('not_found', `No ${what} with id '${id}' in this workspace.`)
}

/** Shorthand for a single-field 422. */
export function invalid(path: string, message: string): ApiError {
  return new ApiError('validation_failed', `${path}: ${message}`, [{ path, message }])
}
