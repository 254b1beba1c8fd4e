/** Webhook endpoints and their delivery log: configuration, secrets, test events, manual redelivery. */
import type { AuditAction, AuditNote } from '../../db/audit'
import type { WebhookModel } from './model'
import type { AppDeps, ServiceDeps } from '../../deps'
import { iso, parseTimestamp } from '../../lib/clock'
import { invalid } from '../../errors'
import { singleLine } from '../../lib/text'
import { newId } from '../../lib/ids'
import { buildPage, type PageRequest } from '../../lib/pagination'
import { generateSecret } from '../../lib/signing'
import { checkUrl, systemResolver, urlProblem } from '../../lib/ssrf'
import { allowAddressHint } from '../../errors/messages'
import { createSecretBox, type SecretBox } from '../../lib/secret-box'
import { sealHeaders } from './at-rest'
import { assertRoomForEndpoint, ENDPOINT_MAX_IN_FLIGHT } from './rules'
import { webhooksStore, type Attempt, type Delivery, type DeliveryDetail, type Endpoint, type WebhooksStoreDeps } from './store'

export type { Attempt, Delivery, Endpoint } from './store'

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

/**
 * Control characters in the URL as sent (the URL parser would encode or drop them, but the text is
 * stored as given, and PostgreSQL cannot store U+0000): refused alike on every engine.
 */
const URL_CONTROL_CHARACTERS = /\p{Cc}/u

async function assertUrlAllowed(deps: AppDeps, url: string): Promise<void> {
  if (URL_CONTROL_CHARACTERS.test(url)) throw invalid('/url', 'must not contain control characters')
  const problem = urlProblem(url)
  if (problem) throw invalid('/url', problem)
  const check = await checkUrl(url, deps.config.webhookAllowCidrs, deps.resolveHost ?? systemResolver)
  if (check.ok) return
  throw invalid('/url', check.reason === 'blocked' ? `${check.message}; ${allowAddressHint(check.address)}` : check.message)
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

/** The audit-log record of a change to an endpoint. */
function endpointNote(workspaceId: string, id: string, action: AuditAction, now: number, details?: Record<string, unknown>): AuditNote {
  return { entry: { workspaceId, action, target: { type: 'webhook_endpoint', id }, details }, now }
}

/** What creating or changing an endpoint takes: the API's own body models, so the two cannot drift apart. */
export type EndpointInput = WebhookModel.patchBody

/** Creates an endpoint after the SSRF check, within the per-workspace limit; returns it with its secret, which is never shown again. */
export async function createEndpoint(deps: AppDeps, workspaceId: string, input: WebhookModel.createBody): Promise<{ endpoint: Endpoint; secret: string }> {
  const store = webhooksStore(deps)
  assertRoomForEndpoint(deps.config.webhookMaxEndpoints, await store.countEndpoints(workspaceId))
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
    maxInFlight: input.max_in_flight ?? ENDPOINT_MAX_IN_FLIGHT.default,
    lastSuccessAt: null,
    failingSince: null,
    createdAt: now,
    updatedAt: now,
  }
  // Checked again in the insert's transaction: concurrent creations cannot pass the limit together.
  return store.insertEndpoint(
    endpoint,
    deps.config.webhookMaxEndpoints,
    (inserted) => ({ endpoint: inserted, secret }),
    // The origin only: receivers' URLs often carry a token in their path or query (Slack, Zapier), and the log is kept for good.
    endpointNote(workspaceId, endpoint.id, 'webhook.created', now, { origin: new URL(endpoint.url).origin }),
  )
}

/** An endpoint of the workspace, or 404. */
export async function getEndpoint(deps: WebhooksStoreDeps, workspaceId: string, id: string): Promise<Endpoint> {
  return webhooksStore(deps).getEndpoint(workspaceId, id)
}

/** Endpoints of the workspace, newest first. */
export async function listEndpoints(deps: WebhooksStoreDeps, workspaceId: string, req: PageRequest) {
  const { rows, total, hasMore } = await webhooksStore(deps).listEndpoints(workspaceId, req)
  return buildPage(
    req,
    rows.map((r) => ({ seq: r.seq, item: serializeEndpoint(r.row) })),
    total,
    hasMore,
  )
}

/** Changes the fields given. Enabling clears the failure clock and resumes pending deliveries. */
export async function updateEndpoint(deps: AppDeps, workspaceId: string, id: string, input: EndpointInput): Promise<Endpoint> {
  const store = webhooksStore(deps)
  const current = await store.getEndpoint(workspaceId, id)
  if (input.url !== undefined && input.url !== current.url) await assertUrlAllowed(deps, input.url)
  const changes: Partial<Endpoint> = { updatedAt: deps.clock.now() }
  if (input.url !== undefined) changes.url = input.url
  if (input.events !== undefined) changes.events = normaliseEvents(input.events)
  if (input.description !== undefined) changes.description = singleLine(input.description, '/description')
  if (input.headers !== undefined) changes.headers = sealHeaders(box(deps), normaliseHeaders(input.headers))
  if (input.max_in_flight !== undefined) changes.maxInFlight = input.max_in_flight
  // Whether this enables or disables is decided on the row as it is in the update's transaction.
  return store.updateEndpoint(
    workspaceId,
    id,
    (locked) => {
      if (input.enabled === undefined || input.enabled === locked.enabled) return changes
      return { ...changes, enabled: input.enabled, disabledReason: null, ...(input.enabled ? { failingSince: null } : {}) }
    },
    (updated) => updated,
    // Which fields were sent, never their values: headers hold receivers' secrets.
    endpointNote(workspaceId, id, 'webhook.updated', changes.updatedAt!, { fields: Object.keys(input).sort() }),
  )
}

/** Deletes an endpoint with its deliveries and their attempts. */
export async function deleteEndpoint(deps: ServiceDeps, workspaceId: string, id: string): Promise<void> {
  return webhooksStore(deps).deleteEndpoint(workspaceId, id, endpointNote(workspaceId, id, 'webhook.deleted', deps.clock.now()))
}

/** New signing secret; the current one keeps signing alongside it for 24 h (an older previous one is dropped). */
export async function rotateSecret(deps: AppDeps, workspaceId: string, id: string): Promise<{ endpoint: Endpoint; secret: string }> {
  const now = deps.clock.now()
  const secret = generateSecret()
  const sealed = box(deps).seal(secret)
  // The current secret read under the update's lock: a concurrent rotation or deletion cannot slip in between.
  return webhooksStore(deps).updateEndpoint(
    workspaceId,
    id,
    (current) => ({ secret: sealed, previousSecret: current.secret, previousSecretExpiresAt: now + SECRET_OVERLAP_MS, updatedAt: now }),
    (endpoint) => ({ endpoint, secret }),
    endpointNote(workspaceId, id, 'webhook.secret_rotated', now),
  )
}

/** Queues a `webhook.test` event for this endpoint only (409 when it is disabled). */
export async function sendTestEvent(deps: ServiceDeps, workspaceId: string, id: string): Promise<{ eventId: string; deliveryId: string }> {
  return webhooksStore(deps).queueTestEvent(workspaceId, id, { endpoint_id: id, message: 'This is a test event sent from askad.' }, deps.clock.now())
}

/** Deliveries of an endpoint, newest first, each with its attempts. */
export async function listDeliveries(
  deps: WebhooksStoreDeps,
  workspaceId: string,
  endpointId: string,
  status: Delivery['status'] | undefined,
  req: PageRequest,
) {
  const { rows, total, hasMore } = await webhooksStore(deps).listDeliveries(workspaceId, endpointId, status, req)
  return buildPage(
    req,
    rows.map((r) => ({ seq: r.seq, item: serializeDetail(r.row) })),
    total,
    hasMore,
  )
}

function serializeDetail({ delivery, eventType, attempts }: DeliveryDetail): WebhookModel.delivery {
  return serializeDelivery(delivery, eventType, attempts)
}

/** The JSON body sent for each of the workspace's events among `eventIds`, by event id (absent: not the workspace's). */
export function eventPayloads(deps: WebhooksStoreDeps, workspaceId: string, eventIds: string[]): Promise<Map<string, string>> {
  return webhooksStore(deps).eventPayloads(workspaceId, eventIds)
}

/** Every delivery of the workspace's events among `eventIds` (to any endpoint), newest first. */
export async function deliveriesOfEvents(deps: WebhooksStoreDeps, workspaceId: string, eventIds: string[]) {
  const rows = await webhooksStore(deps).deliveriesOfEvents(workspaceId, eventIds)
  return rows.map(({ delivery: d, endpointUrl }) => ({
    id: d.id,
    endpoint_id: d.endpointId,
    endpoint_url: endpointUrl,
    event_id: d.eventId,
    status: d.status,
    attempt_count: d.attemptCount,
    last_status_code: d.lastStatusCode,
    created_at: iso(d.createdAt)!,
  }))
}

/** Sends one delivery again now (trigger `manual`), whatever its state, unless an attempt is in flight. */
export async function retryDelivery(deps: ServiceDeps, workspaceId: string, endpointId: string, deliveryId: string): Promise<WebhookModel.delivery> {
  return webhooksStore(deps).retryDelivery(workspaceId, endpointId, deliveryId, deps.clock.now(), serializeDetail)
}

/** Queues a manual attempt for every failed delivery of the endpoint created at or after `since`. */
export async function recoverDeliveries(deps: ServiceDeps, workspaceId: string, endpointId: string, since: string): Promise<number> {
  const sinceMs = parseTimestamp(since, '/since')
  return webhooksStore(deps).recoverDeliveries(workspaceId, endpointId, sinceMs, deps.clock.now())
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
    max_in_flight: e.maxInFlight,
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
