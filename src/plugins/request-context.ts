/** Per-request state (id, start time, key prefix, status) shared by the plugins without touching handlers. */
import type { PendingKey } from './idempotency'

export interface RequestState {
  id: string
  startedAt: number
  /** Display prefix of the authenticating key, for the access log. */
  keyPrefix?: string
  /** Status of an error response, which Elysia's `set.status` does not always reflect. */
  errorStatus?: number
  /** The request's Idempotency-Key while its answer is not yet stored (plugins/idempotency.ts). */
  idempotency?: PendingKey
}

const states = new WeakMap<Request, RequestState>()

const INCOMING_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The state of a request, created on first use. Accepts a sane incoming X-Request-Id for tracing across systems. */
export function requestState(request: Request): RequestState {
  let state = states.get(request)
  if (!state) {
    const incoming = request.headers.get('x-request-id')
    state = { id: incoming && INCOMING_ID.test(incoming) ? incoming : `req_${crypto.randomUUID().replaceAll('-', '')}`, startedAt: performance.now() }
    states.set(request, state)
  }
  return state
}
