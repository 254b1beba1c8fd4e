/**
 * `Idempotency-Key` on every authenticated POST under /api/v1 (SPEC §6), after Stripe.
 *
 * The first request with a key reserves it (state `in_flight`) once it has passed auth and
 * validation, just before its handler runs; its response is then stored for 24 h and replayed,
 * with `Idempotent-Replayed: true`, to any retry with the same key and the same method, path
 * and body. The same key with a different request → 422; while the first is running → 409.
 * Keys are per API key. Only 2xx and 3xx answers are stored. Requests refused before the
 * handler (auth, rate limit, schema) never reserve a key, and an error answer (4xx or 5xx)
 * releases it: our services write in one transaction that an error rolls back, so nothing was
 * done and the client may fix the request and retry with the same key. Secrets shown once (a new
 * API key, a `whsec_` signing secret) are never stored: a replay shows them redacted.
 */
import { and, eq, lte } from 'drizzle-orm'
import { Elysia, ElysiaCustomStatusResponse, StatusMap } from 'elysia'
import type { Db } from '../db/client'
import { idempotencyKeys } from '../db/schema'
import { writeTx } from '../db/tx'
import type { AppDeps } from '../deps'
import { ApiError, invalid } from '../lib/errors'
import { redactKeys } from '../lib/keys'
import { redactSigningSecrets } from '../lib/signing'
import { authOf } from './auth'

/** How long a stored response is replayed. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000

/** Longest accepted Idempotency-Key (a UUID needs 36). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255

/** A reservation this old belongs to a request that died with its process; a retry takes it over. */
const ABANDONED_AFTER_MS = 60_000

/** Expired rows are deleted at most this often, by whichever idempotent request comes along. */
const CLEANUP_INTERVAL_MS = 60_000

/** Headers that describe the request being answered, not the stored result; a replay gets fresh ones. */
const PER_REQUEST_HEADER = /^(x-request-id|x-ratelimit-.*|ratelimit|ratelimit-policy|retry-after|access-control-.*|vary|set-cookie)$/i

type IdempotencyRow = typeof idempotencyKeys.$inferSelect

interface Reservation {
  apiKeyId: string
  key: string
}

/** SHA-256 of what makes two requests "the same": method, path with query, and the parsed body. */
function requestHash(request: Request, body: unknown): string {
  const url = new URL(request.url)
  return new Bun.CryptoHasher('sha256').update(`${request.method} ${url.pathname}${url.search}\n${JSON.stringify(body ?? null)}`).digest('hex')
}

/** Reserves the key, or returns the stored row to replay; throws 422 for another request, 409 while in flight. */
function reserve(db: Db, { apiKeyId, key }: Reservation, hash: string, now: number): IdempotencyRow | null {
  return writeTx(db, (tx) => {
    const row = tx.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key))).get()
    const abandoned = row?.state === 'in_flight' && now - row.createdAt >= ABANDONED_AFTER_MS
    if (row && row.expiresAt > now && !abandoned) {
      if (row.requestHash !== hash) {
        throw new ApiError('idempotency_mismatch', 'This Idempotency-Key was already used for a different request (method, path or body); use a new key for a new request.')
      }
      if (row.state === 'in_flight') {
        throw new ApiError('idempotency_in_flight', 'A request with this Idempotency-Key is still being processed; retry once it has finished.')
      }
      return row
    }
    const fresh = { requestHash: hash, state: 'in_flight' as const, responseStatus: null, responseHeaders: null, responseBody: null, createdAt: now, expiresAt: now + IDEMPOTENCY_TTL_MS }
    tx.insert(idempotencyKeys)
      .values({ apiKeyId, key, ...fresh })
      .onConflictDoUpdate({ target: [idempotencyKeys.apiKeyId, idempotencyKeys.key], set: fresh })
      .run()
    return null
  })
}

function finish(db: Db, { apiKeyId, key }: Reservation, response: { status: number; headers: Record<string, string>; body: string } | null): void {
  const where = and(eq(idempotencyKeys.apiKeyId, apiKeyId), eq(idempotencyKeys.key, key), eq(idempotencyKeys.state, 'in_flight'))
  if (!response) db.delete(idempotencyKeys).where(where).run()
  else db.update(idempotencyKeys).set({ state: 'done', responseStatus: response.status, responseHeaders: response.headers, responseBody: response.body }).where(where).run()
}

function replay(row: IdempotencyRow): Response {
  return new Response(row.responseBody, { status: row.responseStatus!, headers: { ...row.responseHeaders, 'idempotent-replayed': 'true' } })
}

/** The response a handler's return value becomes, built here so that exactly what is sent is stored. */
function toResponse(value: unknown, set: { status?: number | keyof typeof StatusMap; headers: Record<string, string | number> }): Response {
  if (value instanceof Response) return value
  let status = typeof set.status === 'number' ? set.status : set.status ? StatusMap[set.status] : 200
  if (value instanceof ElysiaCustomStatusResponse) {
    status = value.code
    value = value.response
  }
  const body = typeof value === 'string' ? value : JSON.stringify(value)
  const contentType = set.headers['content-type'] ?? (typeof value === 'string' ? 'text/plain;charset=utf-8' : 'application/json;charset=utf-8')
  return new Response(body, { status, headers: { 'content-type': String(contentType) } })
}

/** Reserves, stores and replays Idempotency-Key requests around every authenticated POST handler. */
export const idempotency = (deps: AppDeps) => {
  const reservations = new WeakMap<Request, Reservation>()
  let nextCleanupAt = 0

  return new Elysia({ name: 'idempotency' })
    .onBeforeHandle({ as: 'global' }, ({ request, body }) => {
      const key = request.headers.get('idempotency-key')
      const auth = authOf(request)
      if (request.method !== 'POST' || key === null || !auth) return
      if (key.length < 1 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
        throw invalid('headers.idempotency-key', `must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters long (a UUID is a good choice)`)
      }
      const now = deps.clock.now()
      if (now >= nextCleanupAt) {
        deps.db.delete(idempotencyKeys).where(lte(idempotencyKeys.expiresAt, now)).run()
        nextCleanupAt = now + CLEANUP_INTERVAL_MS
      }
      const reservation = { apiKeyId: auth.key.id, key }
      const stored = reserve(deps.db, reservation, requestHash(request, body), now)
      if (stored) return replay(stored)
      reservations.set(request, reservation)
    })
    .mapResponse({ as: 'global' }, async ({ request, responseValue, set }) => {
      const reservation = reservations.get(request)
      // Error hooks that do not answer pass `undefined` here; the errors plugin's answer follows.
      if (!reservation || responseValue === undefined) return
      reservations.delete(request)
      const response = toResponse(responseValue, set)
      if (response.status >= 400) {
        finish(deps.db, reservation, null)
        return response
      }
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(set.headers)) if (!PER_REQUEST_HEADER.test(name)) headers[name] = String(value)
      response.headers.forEach((value, name) => {
        if (!PER_REQUEST_HEADER.test(name)) headers[name] = value
      })
      // The table is not a secret store: keys are kept only as hashes, so a stored response must not undo that.
      const body = redactSigningSecrets(redactKeys(await response.clone().text()))
      finish(deps.db, reservation, { status: response.status, headers, body })
      return response
    })
}
