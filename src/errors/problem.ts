/** RFC 9457 problem-details responses, and Elysia's validation errors turned into field errors. */
import type { ValidationError } from 'elysia'
import { redactKeys } from '../lib/keys'
import { ERROR_CODES, problemType, type ErrorCode, type FieldError } from '.'

const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** An RFC 9457 problem-details response for a code; headers already set on the request's context are merged by Elysia. */
export function problemResponse(code: ErrorCode, detail: string, requestId: string, errors?: FieldError[], headers?: Record<string, string>): Response {
  const { status, title } = ERROR_CODES[code]
  // Details may quote the input; a key pasted into the wrong field must not be echoed back.
  const safeErrors = errors?.map((e) => ({ path: redactKeys(e.path), message: redactKeys(e.message) }))
  const body = { type: problemType(code), title, status, detail: redactKeys(detail), request_id: requestId, ...(safeErrors ? { errors: safeErrors } : {}) }
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers } })
}

/**
 * A TypeBox error's message for people: TypeBox says 'Expected union value' for a union; name what
 * is accepted instead when the choices are literals or types.
 */
export function describeValueError(error: { message: string; schema?: unknown }): string {
  if (error.message !== 'Expected union value') return error.message
  const choices = (error.schema as { anyOf?: { const?: unknown; type?: string }[] } | undefined)?.anyOf ?? []
  const literals = choices.map((s) => s.const).filter((v) => v !== undefined)
  if (literals.length === choices.length && literals.length > 0) return `Expected one of ${literals.join(', ')}`
  const types = choices.map((s) => s.type).filter(Boolean)
  return types.length > 0 ? `Expected ${types.join(' or ')}` : error.message
}

/** Elysia's validation error as field errors: a JSON Pointer for the body, `query.<name>` and the like elsewhere. */
export function validationErrors(error: ValidationError): FieldError[] {
  const where = error.type === 'body' ? '' : `${error.type}.`
  return error.all.map((e) => {
    const path = 'path' in e ? e.path : ''
    const message = 'message' in e ? describeValueError(e) : 'is invalid'
    if (where) return { path: `${where}${path.replace(/^\//, '').replaceAll('/', '.')}`, message }
    return { path: path || '/', message }
  })
}
