/**
 * The one per-request context: everything the plugins learn about a request (id, client IP, key,
 * rate limits, Idempotency-Key reservation, error status) in one typed object, with one accessor.
 *
 * It is kept in a WeakMap keyed by the Request, here and nowhere else. Elysia does hand one
 * context object through onRequest, the handler, onError, mapResponse and onAfterResponse, but it
 * has no typed per-request slot that exists before routing (derive and resolve run after the
 * router, decorate is shared by the whole app), and the helpers routes call (capture's form-key
 * authentication, `answerWrite`) are given the Request. The Request is the one object every stage
 * holds, and the map lets the context go with it.
 */
import type { PgTx } from '../db/pg/unit-of-work'
import type { Tx } from '../db/tx'
import type { Auth, ApiKey } from '../db/api-key'
import { keyActor, SYSTEM_ACTOR, type Actor } from '../lib/actor'
import { requestClientIp } from '../lib/client-ip'
import type { MaybePromise } from '../lib/maybe-async'
import { ApiError } from '../errors'
import type { AddressRanges } from '../lib/ssrf'

/**
 * The limits of one request, bound by the gate and applied when authentication has an outcome (plugins/rate-limit.ts).
 * Synchronous on the memory store; a promise (rejecting where the sync form throws) on a shared store.
 */
export interface RequestLimits {
  /** Counts a failed authentication against the client IP; throws 429 when the IP has no failures left. */
  authFailed(): MaybePromise<void>
  /** Throws 429 when the client IP has no failed authentications left (before work a valid key has not paid for yet). */
  refuseIfOutOfFailures(): MaybePromise<void>
  /** Takes a token for the key (and for the browser, with publishable keys); throws 429 when empty. */
  authenticated(key: ApiKey): MaybePromise<void>
}

/** An answer as stored for an Idempotency-Key: the status, the headers that describe the result, and the body as sent. */
export interface StoredAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/** An Idempotency-Key reserved by a running request, until its answer is stored or it fails (plugins/idempotency.ts). */
export interface PendingKey {
  apiKeyId: string
  /** The key as stored: the client's, prefixed with the browser on a publishable key. */
  key: string
  requestHash: string
  /** Nothing is left to store: the answer committed with the change, or another process's answer was replayed. */
  settled: boolean
  /** Stores the answer inside `tx` (SQLite). */
  store(tx: Tx, answer: StoredAnswer, now: number): void
  /** Stores the answer inside `tx` (PostgreSQL). */
  storePg(tx: PgTx, answer: StoredAnswer, now: number): Promise<void>
  /** Ends the reservation in this process. */
  release(): void
}

/** What the plugins know about one request. */
export interface RequestContext {
  /** The request id: a sane incoming X-Request-Id, else a fresh one. */
  readonly id: string
  /** performance.now() when the request was first seen. */
  readonly startedAt: number
  /** The client IP, computed once (by the gate, or by `clientIpOf` on first use). */
  ip?: string
  /** The authenticated key; set only by the gate's authentication (plugins/auth.ts). */
  auth?: Auth
  /** Display prefix of the authenticating key, for the access log. */
  keyPrefix?: string
  /** The rate limits bound by the gate; none outside the HTTP chain (CLI, services) or around the gate. */
  limits?: RequestLimits
  /** The request's Idempotency-Key while its answer is not yet stored. */
  idempotency?: PendingKey
  /** A source URL's Idempotency-Key look-up, left to its handler for after the sender's signature is checked (plugins/idempotency.ts). */
  idempotencyLookUp?: () => Promise<Response | undefined>
  /** Status of an error response, which Elysia's `set.status` does not always reflect. */
  status?: number
}

const contexts = new WeakMap<Request, RequestContext>()

const INCOMING_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The context of a request, created on first use. Accepts a sane incoming X-Request-Id for tracing across systems. */
export function requestContext(request: Request): RequestContext {
  let context = contexts.get(request)
  if (!context) {
    const incoming = request.headers.get('x-request-id')
    context = { id: incoming && INCOMING_ID.test(incoming) ? incoming : `req_${crypto.randomUUID().replaceAll('-', '')}`, startedAt: performance.now() }
    contexts.set(request, context)
  }
  return context
}

type Server = Parameters<typeof requestClientIp>[1]

/** The request's client IP, computed on first use and kept in its context (trusted proxies come parsed from the config). */
export function clientIpOf(request: Request, server: Server, trustedProxies: AddressRanges): string {
  const context = requestContext(request)
  context.ip ??= requestClientIp(request, server, trustedProxies)
  return context.ip
}

/** Who a request acts as, for the audit log: its API key (by prefix) and its client IP. */
export function requestActor(request: Request): Actor {
  const context = requestContext(request)
  const ip = context.ip ?? null
  return context.auth ? keyActor(context.auth.key, ip) : { ...SYSTEM_ACTOR, ip }
}

/** `deps` acting for the request (what its writes record in the audit log). */
export function actingFor<D extends object>(deps: D, request: Request): D & { actor: Actor } {
  return { ...deps, actor: requestActor(request) }
}

/**
 * The path Elysia's router matches on, as onRequest sees it. Elysia cuts it out of the URL before
 * routing and passes it to onRequest without a type; gates must decide on exactly this. It must
 * also be the URL's own path: a request whose routed path differs (an Elysia setting or upgrade
 * that cuts the URL another way) is refused, so a proxy's path rules and askad's never disagree.
 * Throws, failing every request closed, if an Elysia upgrade stops providing it
 * (test/http/security-gate.test.ts then fails loudly).
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
