/**
 * `Idempotency-Key` on every authenticated POST under /api/v1 (SPEC §6), after Stripe.
 *
 * A stored answer is replayed, with `Idempotent-Replayed: true`, to any retry with the same key and
 * the same method, path and body for 24 h; the same key with a different request → 422; while the
 * first request runs → 409. Keys are per API key; on a publishable key (browser capture) per API key
 * and browser (client IP and User-Agent), so one visitor never gets another's answer.
 *
 * A key is either absent or complete: the answer commits in the same transaction as the change it
 * answers (SPEC §10). A route runs its write through `answerWrite`, whose `storeAnswer` (or
 * `storePgAnswer`) the service calls inside its transaction; routes that change nothing store their
 * answer afterwards. On SQLite, while a request runs, its key is reserved in this process's memory
 * only, so a crash leaves nothing to clear: the retry replays the stored answer or, when nothing
 * committed, runs again. Two processes on one database that run the same key at once both try to
 * commit; the later one finds the stored answer inside its transaction, rolls its change back and
 * replays. On PostgreSQL, where many nodes serve one client, the same holds and is made explicit
 * (idempotency.pg.ts): the answer is written under the key row's lock, so of two nodes running one
 * key at once the later waits for the first's commit, rolls back and replays. The reservation stays
 * in each node's memory, so a node killed mid-request leaves nothing behind that could hold its
 * client's retry on another node.
 *
 * Only 2xx and 3xx answers are stored; an error answer (4xx or 5xx) leaves the key absent: our
 * services write in one transaction that an error rolls back, so the client may fix the request and
 * retry with the same key. Requests refused before the handler (auth, rate limit, schema) never
 * reserve a key. Secrets shown once (a new API key, a `whsec_` signing secret) are never stored:
 * a replay shows them redacted.
 */
import { SQL } from 'bun'
import { and, eq } from 'drizzle-orm'
import { Elysia, type Context } from 'elysia'
import { type PgTx, writePg } from '../db/pg/unit-of-work'
import { idempotencyKeys } from '../db/schema'
import { storageProblem } from '../db/storage'
import { writeTx, type Tx } from '../db/tx'
import type { AppDeps } from '../deps'
import { ApiError, invalid } from '../errors'
import { redactKeys } from '../lib/keys'
import { redactSigningSecrets } from '../lib/signing'
import { authOf, SOURCE_PATH_PREFIX } from './auth'
import { JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE, toResponse } from './elysia-response'
import { lockedRowPg, rowPg, writeAnswerPg, type KeySlot } from './idempotency.pg'
import { actingFor, clientIpOf, requestContext, type PendingKey, type StoredAnswer } from './request-context'

/** How long a stored response is replayed. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000

/** Longest accepted Idempotency-Key (a UUID needs 36). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255

/** A reservation this old belongs to a request that never finished (a hung handler); a retry takes it over. */
const ABANDONED_AFTER_MS = 60_000

/** Tries at a PostgreSQL key row that keeps changing under us (inserted, deleted) before answering 409. */
const ROW_ATTEMPTS = 3

/** Storing an answer queues no deliveries: nothing to wake. */
const NOTHING_TO_WAKE = () => {}

/** Headers that describe the request being answered, not the stored result; a replay gets fresh ones. */
const PER_REQUEST_HEADER = /^(x-request-id|x-ratelimit-.*|ratelimit|ratelimit-policy|retry-after|access-control-.*|vary|set-cookie)$/i

type IdempotencyRow = typeof idempotencyKeys.$inferSelect
type ResponseSet = Context['set']

/** A route's answer to a request, as sent and as stored for replay. */
export interface Answer<B> {
  status: number
  headers?: Record<string, string>
  body: B
}

/** An answer stored by another process under the same key, found inside our transaction. */
class AlreadyAnswered extends Error {
  constructor(readonly row: IdempotencyRow) {
    super('Idempotency-Key already answered')
  }
}

/** SHA-256 of what makes two requests "the same": method, path with query, and the parsed body (or the bytes, on a raw route). */
function requestHash(request: Request, body: unknown): string {
  const url = new URL(request.url)
  const hasher = new Bun.CryptoHasher('sha256').update(`${request.method} ${url.pathname}${url.search}\n`)
  return hasher.update(body instanceof Uint8Array ? body : JSON.stringify(body ?? null)).digest('hex')
}

/** A browser as far as the server can tell: on a publishable key, anyone on the internet holds the key. */
function browserOf(ip: string, userAgent: string | null): string {
  return new Bun.CryptoHasher('sha256')
    .update(`${ip}\n${userAgent ?? ''}`)
    .digest('hex')
    .slice(0, 32)
}

function inFlight(): ApiError {
  return new ApiError('idempotency_in_flight', 'A request with this Idempotency-Key is still being processed; retry once it has finished.')
}

function mismatch(): ApiError {
  return new ApiError(
    'idempotency_mismatch',
    'This Idempotency-Key was already used for a different request (method, path or body); use a new key for a new request.',
  )
}

/** The stored answer for this key, if it is live: replay it (same request) or refuse (422). */
function liveRow(row: IdempotencyRow | undefined, hash: string, now: number): IdempotencyRow | null {
  // Rows left `in_flight` by versions that reserved in the database are ignored: nothing of theirs committed with them.
  if (row?.state !== 'done' || row.expiresAt <= now) return null
  if (row.requestHash !== hash) throw mismatch()
  return row
}

function replay(row: IdempotencyRow): Response {
  return new Response(row.responseBody, { status: row.responseStatus!, headers: { ...row.responseHeaders, 'idempotent-replayed': 'true' } })
}

function storedHeaders(set: ResponseSet, extra: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries({ ...set.headers, ...extra })) if (!PER_REQUEST_HEADER.test(name)) headers[name] = String(value)
  return headers
}

/** The table is not a secret store: keys are kept only as hashes, so a stored response must not undo that. */
function storedBody(body: string): string {
  return redactSigningSecrets(redactKeys(body))
}

/** The row of an answered key. */
function answerRow(requestHash: string, answer: StoredAnswer, now: number) {
  return {
    requestHash,
    state: 'done' as const,
    responseStatus: answer.status,
    responseHeaders: answer.headers,
    responseBody: storedBody(answer.body),
    createdAt: now,
    expiresAt: now + IDEMPOTENCY_TTL_MS,
  }
}

/**
 * PostgreSQL's putAnswer: decided under the row's lock, so of two nodes answering one key the later
 * waits, then finds the first one's answer (→ AlreadyAnswered, or 422) and rolls back.
 */
async function putAnswerPg(tx: PgTx, pending: KeySlot & Pick<PendingKey, 'requestHash'>, answer: StoredAnswer, now: number): Promise<void> {
  for (let attempt = 0; attempt < ROW_ATTEMPTS; attempt++) {
    const row = await lockedRowPg(tx, pending)
    const existing = liveRow(row, pending.requestHash, now)
    if (existing) throw new AlreadyAnswered(existing)
    if (await writeAnswerPg(tx, pending, row, answerRow(pending.requestHash, answer, now))) return
  }
  throw inFlight()
}

/**
 * Stores the answer inside `tx`, unless another process stored one first (→ AlreadyAnswered, or 422
 * for another request): the caller's transaction then rolls back, its change with it.
 */
function putAnswer(tx: Tx, pending: Pick<PendingKey, 'apiKeyId' | 'key' | 'requestHash'>, answer: StoredAnswer, now: number): void {
  const where = and(eq(idempotencyKeys.apiKeyId, pending.apiKeyId), eq(idempotencyKeys.key, pending.key))
  const existing = liveRow(tx.select().from(idempotencyKeys).where(where).get(), pending.requestHash, now)
  if (existing) throw new AlreadyAnswered(existing)
  const row = answerRow(pending.requestHash, answer, now)
  tx.insert(idempotencyKeys)
    .values({ apiKeyId: pending.apiKeyId, key: pending.key, ...row })
    .onConflictDoUpdate({ target: [idempotencyKeys.apiKeyId, idempotencyKeys.key], set: row })
    .run()
}

/**
 * Runs a route's write so that the answer to the request's Idempotency-Key, if it has one, commits
 * in the same transaction as the change: `write` gets deps carrying `storeAnswer` and `storePgAnswer`,
 * which the unit of work of its engine (db/unit-of-work.ts, db/pg/unit-of-work.ts) calls inside the
 * service's transaction with the result of its work, and `answer` turns that result into the route's
 * answer there and for this response. The deps act for the request's key (the audit log's actor). Returns the body to send (status and headers are set), or a
 * Response replaying the answer another process committed first under the same key.
 */
export async function answerWrite<D extends { clock: AppDeps['clock'] }, R, B>(
  ctx: { request: Request; set: ResponseSet },
  deps: D,
  write: (deps: D) => R | Promise<R>,
  answer: (result: R) => Answer<B>,
): Promise<B> {
  const pending = requestContext(ctx.request).idempotency
  let result: R
  try {
    const acting = actingFor(deps, ctx.request)
    result = await write(
      pending
        ? {
            ...acting,
            storeAnswer: (tx: Tx, value: unknown) => pending.store(tx, stored(value as R), deps.clock.now()),
            storePgAnswer: (tx: PgTx, value: unknown) => pending.storePg(tx, stored(value as R), deps.clock.now()),
          }
        : acting,
    )
  } catch (error) {
    if (!(error instanceof AlreadyAnswered)) throw error
    pending!.settled = true
    // Elysia sends a Response as it is; the route's schema types describe the answers it makes itself.
    return replay(error.row) as B
  }
  const { status, headers, body } = answer(result)
  ctx.set.status = status
  Object.assign(ctx.set.headers, headers)
  return body

  /** The answer to store for the work's result. */
  function stored(value: R): StoredAnswer {
    const a = answer(value)
    const text = typeof a.body === 'string' ? a.body : JSON.stringify(a.body)
    const contentType = a.headers?.['content-type'] ?? ctx.set.headers['content-type'] ?? (typeof a.body === 'string' ? TEXT_CONTENT_TYPE : JSON_CONTENT_TYPE)
    return { status: a.status, headers: storedHeaders(ctx.set, { ...a.headers, 'content-type': String(contentType) }), body: text }
  }
}

/**
 * For a source URL, whose handler has just authenticated the sender: the stored answer to the request's
 * Idempotency-Key to replay, else nothing (the key is then reserved, as for any other route).
 */
export function idempotentReplay(request: Request): Promise<Response | undefined> {
  const state = requestContext(request)
  const lookUp = state.idempotencyLookUp
  state.idempotencyLookUp = undefined
  return lookUp ? lookUp() : Promise.resolve(undefined)
}

/** Reserves, replays and (for routes that change nothing) stores Idempotency-Key requests around every authenticated POST handler. */
export const idempotency = (deps: AppDeps) => {
  /** Keys of requests running in this process, with their request hash and start: the reservations. */
  const running = new Map<string, { hash: string; since: number }>()

  /** The key's stored row, from the engine the app runs on. */
  async function storedRow(slot: KeySlot) {
    if (deps.pg) return rowPg(deps.pg, slot)
    return deps.db
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.apiKeyId, slot.apiKeyId), eq(idempotencyKeys.key, slot.key)))
      .get()
  }

  /** A stored answer replays; a key running in this process is 409; else the key is reserved here until `release`. */
  async function reserve(slot: KeySlot, hash: string, now: number): Promise<Response | PendingKey> {
    const stored = liveRow(await storedRow(slot), hash, now)
    if (stored) return replay(stored)
    const id = `${slot.apiKeyId}\n${slot.key}`
    const other = running.get(id)
    if (other && now - other.since < ABANDONED_AFTER_MS) {
      if (other.hash !== hash) throw mismatch()
      throw inFlight()
    }
    const entry = { hash, since: now }
    running.set(id, entry)
    const pending: PendingKey = {
      ...slot,
      requestHash: hash,
      settled: false,
      store(tx, answer, at) {
        putAnswer(tx, pending, answer, at)
        // Set inside the transaction: if it rolls back instead, the error reaches the handler and the key stays absent.
        pending.settled = true
      },
      async storePg(tx, answer, at) {
        await putAnswerPg(tx, pending, answer, at)
        pending.settled = true
      },
      release() {
        if (running.get(id) === entry) running.delete(id)
      },
    }
    return pending
  }

  return new Elysia({ name: 'idempotency' })
    .onBeforeHandle({ as: 'global' }, async ({ request, body, server, route }) => {
      const clientKey = request.headers.get('idempotency-key')
      const auth = authOf(request)
      if (request.method !== 'POST' || clientKey === null || !auth) return
      if (clientKey.length < 1 || clientKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
        throw invalid('headers.idempotency-key', `must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters long (a UUID is a good choice)`)
      }
      const key =
        auth.key.kind === 'publishable'
          ? `${browserOf(clientIpOf(request, server, deps.config.trustedProxies), request.headers.get('user-agent'))}:${clientKey}`
          : clientKey
      const slot = { apiKeyId: auth.key.id, key }
      const hash = requestHash(request, body)
      const lookUp = async () => {
        const reserved = await reserve(slot, hash, deps.clock.now())
        if (reserved instanceof Response) return reserved
        requestContext(request).idempotency = reserved
        return undefined
      }
      // The token only names a source; its preset authenticates the sender (a signature, the shared secret). A stored
      // answer is the sender's: the handler looks it up once that check has passed (`idempotentReplay`).
      if (route.startsWith(SOURCE_PATH_PREFIX)) return void (requestContext(request).idempotencyLookUp = lookUp)
      return lookUp()
    })
    .mapResponse({ as: 'global' }, ({ request, responseValue, set }) => {
      const state = requestContext(request)
      const pending = state.idempotency
      // Error hooks that do not answer pass `undefined` here; the errors plugin's answer follows.
      if (!pending || responseValue === undefined) return
      state.idempotency = undefined
      pending.release()
      const response = toResponse(responseValue, set)
      if (pending.settled || response.status >= 400) return response
      return storeAfter(pending, response, set)
    })
    .onAfterResponse({ as: 'global' }, ({ request }) => {
      // An error answered without passing mapResponse must not leave its key reserved.
      requestContext(request).idempotency?.release()
    })

  /** A route that changed nothing (or wrote without `answerWrite`): its answer is stored on its own. */
  async function storeAfter(pending: PendingKey, response: Response, set: ResponseSet): Promise<Response> {
    const headers: Record<string, string> = storedHeaders(set, {})
    response.headers.forEach((value, name) => {
      if (!PER_REQUEST_HEADER.test(name)) headers[name] = value
    })
    const answer = { status: response.status, headers, body: await response.clone().text() }
    try {
      if (deps.pg) await writePg({ pg: deps.pg, wake: NOTHING_TO_WAKE }, (tx) => pending.storePg(tx, answer, deps.clock.now()))
      else writeTx(deps.db, (tx) => pending.store(tx, answer, deps.clock.now()))
    } catch (error) {
      // Another process answered the same key meanwhile, or storage trouble: the key stays as it is, and
      // as nothing was changed, a retry that runs again is harmless. Only surprises are errors.
      if (!(error instanceof AlreadyAnswered) && !(error instanceof ApiError) && !storageProblem(error) && !(error instanceof SQL.SQLError)) throw error
    }
    return response
  }
}
