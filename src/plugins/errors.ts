/** Turns every thrown error into an RFC 9457 problem-details response, in this one place. */
import { Elysia, ValidationError } from 'elysia'
import { firstReport, recordStorageFailure, storageProblem } from '../db/storage'
import type { AppDeps } from '../deps'
import { ApiError, type ErrorCode, ERROR_CODES, type FieldError, problemType } from '../errors'
import { describeValueError } from '../errors/problem'
import { redactKeys } from '../lib/keys'
import { requestContext } from './request-context'

const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** An RFC 9457 problem-details response for a code; headers already set on the request's context are merged by Elysia. */
function problemResponse(code: ErrorCode, detail: string, requestId: string, errors?: FieldError[], headers?: Record<string, string>): Response {
  const { status, title } = ERROR_CODES[code]
  // Details may quote the input; a key pasted into the wrong field must not be echoed back.
  const safeErrors = errors?.map((e) => ({ path: redactKeys(e.path), message: redactKeys(e.message) }))
  const body = { type: problemType(code), title, status, detail: redactKeys(detail), request_id: requestId, ...(safeErrors ? { errors: safeErrors } : {}) }
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

/** The problem answer to a request, its status noted on the request's context for the access log and metrics. */
function answer(request: Request, code: ErrorCode, detail: string, errors?: FieldError[], headers?: Record<string, string>): Response {
  const context = requestContext(request)
  context.status = ERROR_CODES[code].status
  return problemResponse(code, detail, context.id, errors, headers)
}

/**
 * Maps ApiError, validation, parse and routing errors to problem details, and storage trouble (lock,
 * read-only, full disk, I/O) to 503 with Retry-After, its cause logged once; anything else is logged and answered 500.
 */
export const errors = ({ db, logger }: Pick<AppDeps, 'db' | 'logger'>) =>
  new Elysia({ name: 'errors' }).onError({ as: 'global' }, ({ code, error: thrown, request, path, set }) => {
    // Elysia wraps whatever the body parser throws in a ParseError; ours keep their meaning.
    const error = code === 'PARSE' && thrown.cause instanceof ApiError ? thrown.cause : thrown
    if (error instanceof ApiError) return answer(request, error.code, error.detail, error.errors)
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
    const storage = storageProblem(error)
    if (storage) {
      recordStorageFailure(db, storage)
      if (firstReport(db, storage.cause)) {
        logger.error('storage.unavailable', {
          cause: storage.cause,
          error: error instanceof Error ? `${(error as { code?: string }).code}: ${error.message}` : String(error),
        })
      }
      return answer(request, 'unavailable', storage.detail, undefined, { 'retry-after': String(storage.retryAfter) })
    }
    logger.error('unhandled error', {
      request_id: requestContext(request).id,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      stack: error instanceof Error ? error.stack : undefined,
    })
    set.status = 500
    return answer(request, 'internal', 'Something went wrong on our side; the request id identifies it in the server log.')
  })
