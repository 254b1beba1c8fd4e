/** Webhook endpoints and their delivery log: configuration, secrets, test events, manual redelivery. */
import type { QueryDeps } from '../../deps'
import { rowInWorkspace } from '../../db/in-workspace'
import { and, asc, count, eq, gte, inArray } from 'drizzle-orm'
import { rowidPage } from '../../db/rowid-page'
import { events, webhookAttempts, webhookDeliveries, webhookEndpoints } from '../../db/schema'
import type { DbOrTx } from '../../db/tx'
import { write } from '../../db/unit-of-work'
import type { WebhookModel } from './model'
import type { AppDeps, ReadDeps, ServiceDeps } from '../../deps'
import { iso, parseTimestamp } from '../../lib/clock'
import { ApiError, invalid, notFound } from '../../errors'
import { singleLine } from '../../lib/text'
import { newId } from '../../lib/ids'
import { buildPage, type PageRequest } from '../../lib/pagination'
import { generateSecret } from '../../lib/signing'
import { checkUrl, systemResolver, urlProblem } from '../../lib/ssrf'
import { createSecretBox, type SecretBox } from '../../lib/secret-box'
import { sealHeaders } from './at-rest'

export type Endpoint = typeof webhookEndpoints.$inferSelect
export type Delivery = typeof webhookDeliveries.$inferSelect
export type Attempt = typeof webhookAttempts.$inferSelect

/** How long the previous secret keeps signing after a rotation. */
const SECRET_OVERLAP_MS = 24 * 60 * 60 * 1000
/** What responses show instead of a static header's value. */
const REDACTED = '[redacted]'
const MAX_STATIC_HEADERS = 20
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/
/** Headers askad sets itself, or that would break HTTP framing. */
const RESERVED_HEADERS = new Set([
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'content-type',
  'content-length',
  'user-agent',
  'host',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'proxy-authorization',
])

/** Seals secrets and header values with ASKAD_SECRET_KEY, when set. */
function box(deps: Pick<AppDeps, 'config'>): SecretBox {
  return createSecretBox(deps.config.secretKey)
}

async function assertUrlAllowed(deps: AppDeps, url: string): Promise<void> {
  const problem = urlProblem(url)
  if (problem) throw invalid('/url', problem)
  const check = await checkUrl(url, deps.config.webhookAllowCidrs, deps.resolveHost ?? systemResolver)
  if (!check.ok) throw invalid('/url', check.message)
}

/** Stored form of an events list: [] means every type, now and later. */
function normaliseEvents(list: string[] | undefined): string[] {
  if (!list || list.length === 0 || list.includes('*')) return []
  return [...new Set(list)]
}

function normaliseHeaders(headers: Record<string, string>): Record<string, string> {
  const entries = Object.entries(headers)
  if (entries.length > MAX_STATIC_HEADERS) throw invalid('/headers', `at most ${MAX_STATIC_HEADERS} headers`)
  const out: Record<string, string> = {}
  for (const [name, value] of entries) {
    const lower = name.toLowerCase()
    if (!HEADER_NAME.test(name)) throw invalid(`/headers/${name}`, 'is not a valid header name')
    if (RESERVED_HEADERS.has(lower)) throw invalid(`/headers/${name}`, 'is set by askad and cannot be overridden')
    if (/[\r\n\0]/.test(value)) throw invalid(`/headers/${name}`, 'must not contain line breaks')
    out[lower] = value
  }
  return out
}

/** What creating or changing an endpoint takes: the API's own body models, so the two cannot drift apart. */
export type EndpointInput = WebhookModel.patchBody

/** 422 when the workspace already has as many endpoints as ASKAD_WEBHOOK_MAX_ENDPOINTS allows. */
function assertRoomForEndpoint(db: DbOrTx, limit: number, workspaceId: string): void {
  const n = db.select({ n: count() }).from(webhookEndpoints).where(eq(webhookEndpoints.workspaceId, workspaceId)).get()?.n ?? 0
  if (n < limit) return
  const message = `a workspace can have at most ${limit} webhook endpoints (ASKAD_WEBHOOK_MAX_ENDPOINTS); delete one first`
  throw new ApiError('validation_failed', `Webhook endpoint limit reached: ${message}.`, [{ path: '', message }])
}

/** Creates an endpoint after the SSRF check, within the per-workspace limit; returns it with its secret, which is never shown again. */
export async function createEndpoint(deps: AppDeps, workspaceId: string, input: WebhookModel.createBody): Promise<{ endpoint: Endpoint; secret: string }> {
  assertRoomForEndpoint(deps.db, deps.config.webhookMaxEndpoints, workspaceId)
  await assertUrlAllowed(deps, input.url)
  const now = deps.clock.now()
  const secret = generateSecret()
  const endpoint: Endpoint = {
    id: newId(),
    workspaceId,
    url: input.url,
    description: singleLine(input.description ?? '', '/description'),
    events: normaliseEvents(input.events),
    enabled: input.enabled ?? true,
    disabledReason: null,
    secret: box(deps).seal(secret),
    previousSecret: null,
    previousSecretExpiresAt: null,
    headers: sealHeaders(box(deps), normaliseHeaders(input.headers ?? {})),
    lastSuccessAt: null,
    failingSince: null,
    createdAt: now,
    updatedAt: now,
  }
  // Checked again in the insert's transaction: concurrent creations cannot pass the limit together.
  return write(deps, (tx) => {
    assertRoomForEndpoint(tx, deps.config.webhookMaxEndpoints, workspaceId)
    tx.insert(webhookEndpoints).values(endpoint).run()
    return { endpoint, secret }
  })
}

/** An endpoint of the workspace, or 404. */
export function getEndpoint({ db }: QueryDeps, workspaceId: string, id: string): Endpoint {
  return rowInWorkspace(db, webhookEndpoints, workspaceId, id, 'webhook endpoint')
}

/** Endpoints of the workspace, newest first. */
export function listEndpoints({ db }: ReadDeps, workspaceId: string, req: PageRequest) {
  const { rows, total, hasMore } = rowidPage(db, webhookEndpoints, eq(webhookEndpoints.workspaceId, workspaceId), req)
  return buildPage(
    req,
    rows.map((r) => ({ seq: r.seq, item: serializeEndpoint(r.row) })),
    total,
    hasMore,
  )
}

/** Changes the fields given. Enabling clears the failure clock and resumes pending deliveries. */
export async function updateEndpoint(deps: AppDeps, workspaceId: string, id: string, input: EndpointInput): Promise<Endpoint> {
  const current = getEndpoint(deps, workspaceId, id)
  if (input.url !== undefined && input.url !== current.url) await assertUrlAllowed(deps, input.url)
  const changes: Partial<Endpoint> = { updatedAt: deps.clock.now() }
  if (input.url !== undefined) changes.url = input.url
  if (input.events !== undefined) changes.events = normaliseEvents(input.events)
  if (input.description !== undefined) changes.description = singleLine(input.description, '/description')
  if (input.headers !== undefined) changes.headers = sealHeaders(box(deps), normaliseHeaders(input.headers))
  if (input.enabled !== undefined && input.enabled !== current.enabled) {
    changes.enabled = input.enabled
    changes.disabledReason = null
    if (input.enabled) changes.failingSince = null
  }
  return write(deps, (tx, emit) => {
    const updated = tx.update(webhookEndpoints).set(changes).where(eq(webhookEndpoints.id, id)).returning().get()
    if (!updated) throw notFound('webhook endpoint', id)
    // Its pending deliveries resume.
    if (changes.enabled) emit.due()
    return updated
  })
}

/** Deletes an endpoint with its deliveries and their attempts. */
export async function deleteEndpoint(deps: ServiceDeps, workspaceId: string, id: string): Promise<void> {
  getEndpoint(deps, workspaceId, id)
  await write(deps, (tx) => {
    tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).run()
  })
}

/** New signing secret; the current one keeps signing alongside it for 24 h (an older previous one is dropped). */
export function rotateSecret(deps: AppDeps, workspaceId: string, id: string): Promise<{ endpoint: Endpoint; secret: string }> {
  const now = deps.clock.now()
  const secret = generateSecret()
  return write(deps, (tx) => {
    // Read in the same transaction: a concurrent rotation or deletion cannot slip in between.
    const current = getEndpoint({ db: tx }, workspaceId, id)
    const endpoint = tx
      .update(webhookEndpoints)
      .set({ secret: box(deps).seal(secret), previousSecret: current.secret, previousSecretExpiresAt: now + SECRET_OVERLAP_MS, updatedAt: now })
      .where(eq(webhookEndpoints.id, id))
      .returning()
      .get()!
    return { endpoint, secret }
  })
}

function assertEnabled(endpoint: Endpoint): void {
  if (!endpoint.enabled) throw new ApiError('conflict', `Webhook endpoint '${endpoint.id}' is disabled; enable it (PATCH {"enabled": true}) first.`)
}

/** Queues a `webhook.test` event for this endpoint only. */
export function sendTestEvent(deps: ServiceDeps, workspaceId: string, id: string): Promise<{ eventId: string; deliveryId: string }> {
  const endpoint = getEndpoint(deps, workspaceId, id)
  assertEnabled(endpoint)
  const now = deps.clock.now()
  return write(deps, (_tx, emit) => emit.test(workspaceId, endpoint.id, { endpoint_id: endpoint.id, message: 'This is a test event sent from askad.' }, now))
}

function getDelivery(db: DbOrTx, endpoint: Endpoint, deliveryId: string): Delivery {
  const delivery = db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, endpoint.id)))
    .get()
  if (!delivery) throw notFound('webhook delivery', deliveryId)
  return delivery
}

/** Deliveries of an endpoint, newest first, each with its attempts. */
export function listDeliveries({ db }: ReadDeps, workspaceId: string, endpointId: string, status: Delivery['status'] | undefined, req: PageRequest) {
  const endpoint = getEndpoint({ db }, workspaceId, endpointId)
  const where = and(eq(webhookDeliveries.endpointId, endpoint.id), status ? eq(webhookDeliveries.status, status) : undefined)!
  const { rows, total, hasMore } = rowidPage(db, webhookDeliveries, where, req)
  const details = deliveryDetails(
    db,
    rows.map((r) => r.row),
  )
  return buildPage(
    req,
    rows.map((r) => ({ seq: r.seq, item: details(r.row) })),
    total,
    hasMore,
  )
}

/** Serializer for deliveries that looks up their event types and attempts in two queries. */
function deliveryDetails(db: DbOrTx, deliveries: Delivery[]) {
  const eventIds = deliveries.map((d) => d.eventId)
  const deliveryIds = deliveries.map((d) => d.id)
  const types = new Map(
    eventIds.length
      ? db
          .select({ id: events.id, type: events.type })
          .from(events)
          .where(inArray(events.id, eventIds))
          .all()
          .map((e) => [e.id, e.type])
      : [],
  )
  const attempts = new Map<string, Attempt[]>()
  if (deliveryIds.length) {
    for (const a of db.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, deliveryIds)).orderBy(asc(webhookAttempts.attempt)).all()) {
      attempts.set(a.deliveryId, [...(attempts.get(a.deliveryId) ?? []), a])
    }
  }
  return (d: Delivery) => serializeDelivery(d, types.get(d.eventId) ?? 'unknown', attempts.get(d.id) ?? [])
}

function requeue(now: number) {
  return { status: 'pending' as const, manual: true, nextAttemptAt: now, updatedAt: now }
}

/** Sends one delivery again now (trigger `manual`), whatever its state, unless an attempt is in flight. */
export function retryDelivery(deps: ServiceDeps, workspaceId: string, endpointId: string, deliveryId: string) {
  const now = deps.clock.now()
  return write(deps, (tx, emit) => {
    // Checked in the transaction that requeues: a dispatcher cannot lease the delivery in between.
    const endpoint = getEndpoint({ db: tx }, workspaceId, endpointId)
    assertEnabled(endpoint)
    const delivery = getDelivery(tx, endpoint, deliveryId)
    if (delivery.leaseUntil !== null && delivery.leaseUntil > now)
      throw new ApiError('conflict', `Delivery '${deliveryId}' has an attempt in flight; try again shortly.`)
    const updated = tx.update(webhookDeliveries).set(requeue(now)).where(eq(webhookDeliveries.id, delivery.id)).returning().get()!
    emit.due()
    return deliveryDetails(tx, [updated])(updated)
  })
}

/** Queues a manual attempt for every failed delivery of the endpoint created at or after `since`. */
export function recoverDeliveries(deps: ServiceDeps, workspaceId: string, endpointId: string, since: string): Promise<number> {
  const sinceMs = parseTimestamp(since, '/since')
  const endpoint = getEndpoint(deps, workspaceId, endpointId)
  assertEnabled(endpoint)
  const now = deps.clock.now()
  return write(deps, (tx, emit) => {
    const requeued = tx
      .update(webhookDeliveries)
      .set(requeue(now))
      .where(and(eq(webhookDeliveries.endpointId, endpoint.id), eq(webhookDeliveries.status, 'failed'), gte(webhookDeliveries.createdAt, sinceMs)))
      .returning({ id: webhookDeliveries.id })
      .all()
    emit.due(requeued.length)
    return requeued.length
  })
}

/** The public shape of an endpoint: never its secrets, static header values redacted. */
export function serializeEndpoint(e: Endpoint): WebhookModel.endpoint {
  return {
    id: e.id,
    object: 'webhook_endpoint' as const,
    url: e.url,
    description: e.description,
    events: e.events.length === 0 ? ['*'] : e.events,
    enabled: e.enabled,
    disabled_reason: e.disabledReason,
    headers: Object.fromEntries(Object.keys(e.headers).map((name) => [name, REDACTED])),
    previous_secret_expires_at: iso(e.previousSecretExpiresAt),
    last_success_at: iso(e.lastSuccessAt),
    failing_since: iso(e.failingSince),
    created_at: iso(e.createdAt)!,
    updated_at: iso(e.updatedAt)!,
  }
}

/** The public shape of a delivery, with its attempts oldest first. */
export function serializeDelivery(d: Delivery, eventType: string, attempts: Attempt[]): WebhookModel.delivery {
  return {
    id: d.id,
    object: 'webhook_delivery' as const,
    endpoint_id: d.endpointId,
    event_id: d.eventId,
    event_type: eventType,
    status: d.status,
    attempt_count: d.attemptCount,
    next_attempt_at: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    created_at: iso(d.createdAt)!,
    updated_at: iso(d.updatedAt)!,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      trigger: a.trigger,
      started_at: iso(a.startedAt)!,
      duration_ms: a.durationMs,
      status_code: a.statusCode,
      error_class: a.errorClass,
      error_message: a.errorMessage,
      response_body: a.responseBody,
      next_attempt_at: iso(a.nextAttemptAt),
    })),
  }
}
