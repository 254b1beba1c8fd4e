/** Turns every thrown error into an RFC 9457 problem-details response, in this one place. */
import { Elysia, ValidationError } from 'elysia'
import { firstReport, recordStorageFailure, storageProblem } from '../db/storage'
import type { AppDeps } from '../deps'
import { ApiError, type ErrorCode, ERROR_CODES, type FieldError, problemType } from '../errors'
import { API_AUTH_FAILURES, NOT_GATED } from '../errors/messages'
import { describeValueError } from '../errors/problem'
import { API_PREFIX } from '../lib/api-prefix'
import { redactKeys } from '../lib/keys'
import { requestContext } from './request-context'

const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** A problem as its body holds it; what an error page (below) renders. */
export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  request_id: string
  errors?: FieldError[]
}

/**
 * A route's own rendering of a problem for a request that cannot use problem+json (a plain HTML
 * form's navigation), or null for the usual body. Given by app.ts, so this plugin imports no module.
 */
export type ErrorPage = (request: Request, problem: ProblemBody) => { body: string; headers: Record<string, string> } | null

/** An RFC 9457 problem-details response for a code (or the error page for it); headers already set on the request's context are merged by Elysia. */
function problemResponse(
  request: Request,
  code: ErrorCode,
  detail: string,
  requestId: string,
  errors?: FieldError[],
  headers?: Record<string, string>,
  errorPage?: ErrorPage,
): Response {
  const { status, title } = ERROR_CODES[code]
  // Details may quote the input; a key pasted into the wrong field must not be echoed back.
  const safeErrors = errors?.map((e) => ({ path: redactKeys(e.path), message: redactKeys(e.message) }))
  const body: ProblemBody = {
    type: problemType(code),
    title,
    status,
    detail: redactKeys(detail),
    request_id: requestId,
    ...(safeErrors ? { errors: safeErrors } : {}),
  }
  const page = errorPage?.(request, body)
  if (page) return new Response(page.body, { status, headers: { ...page.headers, ...headers } })
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers } })
}

/** Elysia's validation error as field errors: a JSON Pointer for the body, `query.<name>` and the like elsewhere. */
function validationErrors(error: ValidationError): FieldError[] {
  const where = error.type === 'body' ? '' : `${error.type}.`
  return error.all.map((e) => {
    const path = 'path' in e ? e.path : ''
    const message = 'message' in e ? describeValueError(e) : 'is invalid'
    if (where) return { path: `${where}${path.replace(/^\//, '').replaceAll('/', '.')}`, message }
    return { path: path || '/', message }
  })
}

/**
 * RFC 6750's challenge on a 401 of the API: `error="invalid_token"` when a key was presented and
 * refused; no error code when none came, as the RFC asks.
 */
function bearerChallenge(detail: string): string {
  const noKey = detail === API_AUTH_FAILURES.missing || detail === NOT_GATED
  return noKey ? 'Bearer realm="askad"' : 'Bearer realm="askad", error="invalid_token"'
}

/**
 * Maps ApiError, validation, parse and routing errors to problem details, and storage trouble (lock,
 * read-only, full disk, I/O) to 503 with Retry-After, its cause logged once; anything else is logged and answered 500.
 */
export const errors = ({ db, pg, logger }: Pick<AppDeps, 'db' | 'pg' | 'logger'>, errorPage?: ErrorPage) => {
  /** The problem answer to a request, its status noted on the request's context for the access log and metrics. */
  const answer = (request: Request, code: ErrorCode, detail: string, errors?: FieldError[], headers?: Record<string, string>): Response => {
    const context = requestContext(request)
    context.status = ERROR_CODES[code].status
    return problemResponse(request, code, detail, context.id, errors, headers, errorPage)
  }
  return new Elysia({ name: 'errors' }).onError({ as: 'global' }, ({ code, error: thrown, request, path, set }) => {
    // Elysia wraps whatever the body parser throws in a ParseError; ours keep their meaning.
    const error = code === 'PARSE' && thrown.cause instanceof ApiError ? thrown.cause : thrown
    if (error instanceof ApiError) {
      const challenge = error.status === 401 && path.startsWith(`${API_PREFIX}/`) ? { 'www-authenticate': bearerChallenge(error.detail) } : undefined
      return answer(request, error.code, error.detail, error.errors, challenge)
    }
    switch (code) {
      case 'VALIDATION': {
        if (!(error instanceof ValidationError)) break
        const fieldErrors = validationErrors(error)
        const summary = fieldErrors.map((e) => `${e.path}: ${e.message}`).join('; ')
        return answer(request, 'validation_failed', `The request ${error.type} is invalid: ${summary}`, fieldErrors)
      }
      case 'PARSE':
        return answer(request, 'malformed_json', 'The request body could not be parsed.')
      case 'NOT_FOUND':
        return answer(request, 'not_found', `No route for ${request.method} ${path}.`)
      case 'INVALID_COOKIE_SIGNATURE':
        return answer(request, 'unauthorized', 'Invalid session cookie.')
    }
    if (error instanceof Error && UNSTORABLE_TEXT.has(String((rootCause(error) as { errno?: unknown }).errno))) {
      // A body value no other check refused (an id in a JSON body, say) that PostgreSQL's text cannot hold.
      return answer(request, 'validation_failed', 'A text value in the request contains a character that cannot be stored (NUL).')
    }
    const storage = storageProblem(error)
    if (storage) {
      // The state belongs to the database the node runs on: PostgreSQL's pool, else the SQLite handle.
      const database = pg ?? db
      recordStorageFailure(database, storage)
      if (firstReport(database, storage.cause)) logger.error('storage.unavailable', { cause: storage.cause, error: loggable(error) })
      return answer(request, 'unavailable', storage.detail, undefined, { 'retry-after': String(storage.retryAfter) })
    }
    logger.error('unhandled error', {
      request_id: requestContext(request).id,
      error: loggable(error),
      stack: error instanceof Error ? (rootCause(error).stack ?? error.stack) : undefined,
    })
    set.status = 500
    return answer(request, 'internal', 'Something went wrong on our side; the request id identifies it in the server log.')
  })
}

/** PostgreSQL's SQLSTATEs for text it cannot hold: NUL characters, and bytes that are not UTF-8. */
const UNSTORABLE_TEXT = new Set(['22021', '22P05'])

/** The innermost error of a chain (drizzle wraps the driver's error as its cause). */
function rootCause(error: Error): Error {
  let inner = error
  while (inner.cause instanceof Error) inner = inner.cause
  return inner
}

/**
 * An error as the log may show it: the driver's own code and message. drizzle's wrapper repeats the
 * query with every parameter (lead data, webhook secrets), which must not reach a log.
 */
function loggable(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const inner = rootCause(error)
  const code = (inner as { errno?: unknown; code?: unknown }).errno ?? (inner as { code?: unknown }).code
  return `${inner.name}${code ? ` ${String(code)}` : ''}: ${inner.message}`
}
