/** Per-request state (id, start time, key prefix, status) shared by the plugins without touching handlers. */
import { ApiError } from '../lib/errors'
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

/**
 * The path Elysia's router matches on, as onRequest sees it. Elysia cuts it out of the URL before
 * routing and passes it to onRequest without a type; gates must decide on exactly this. It must
 * also be the URL's own path: a request whose routed path differs (an Elysia setting or upgrade
 * that cuts the URL another way) is refused, so a proxy's path rules and askad's never disagree.
 * Throws, failing every request closed, if an Elysia upgrade stops providing it
 * (test/security-gate.test.ts then fails loudly).
 */
export function routedPath(context: { request: Request }): string {
  const path = (context as { path?: unknown }).path
  if (typeof path !== 'string') throw new Error('Elysia did not pass the routed path to onRequest; refusing to run the request gates without it.')
  const url = context.request.url
  const start = url.indexOf('/', url.indexOf('://') + 3)
  const query = url.indexOf('?', start)
  const own = start === -1 ? '/' : url.substring(start, query === -1 ? undefined : query)
  if (own !== path) throw new ApiError('bad_request', 'The request target could not be routed unambiguously.')
  return path
}
