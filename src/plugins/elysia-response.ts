/**
 * Adapter: the Response Elysia makes of a handler's return value, rebuilt where a plugin must see
 * it before Elysia sends it (the idempotency plugin stores exactly what is sent). Elysia does not
 * export this step; test/unit/elysia-response.test.ts compares it with what Elysia itself sends, so an
 * upgrade that changes Elysia's mapping fails loudly.
 */
import { ElysiaCustomStatusResponse, StatusMap, type Context } from 'elysia'

/** Elysia's content type for objects it serialises. */
export const JSON_CONTENT_TYPE = 'application/json;charset=utf-8'
/** Elysia's content type for strings. */
export const TEXT_CONTENT_TYPE = 'text/plain;charset=utf-8'

/** The response a handler's return value becomes, given the route's `set`. */
export function toResponse(value: unknown, set: Context['set']): Response {
  if (value instanceof Response) return value
  let status = typeof set.status === 'number' ? set.status : set.status ? StatusMap[set.status] : 200
  if (value instanceof ElysiaCustomStatusResponse) {
    status = value.code
    value = value.response
  }
  const body = typeof value === 'string' ? value : JSON.stringify(value)
  const contentType = set.headers['content-type'] ?? (typeof value === 'string' ? TEXT_CONTENT_TYPE : JSON_CONTENT_TYPE)
  return new Response(body, { status, headers: { 'content-type': String(contentType) } })
}
