/** Schemas of the webhook endpoints, each paired with its type. */
import { Type } from '@sinclair/typebox'
import { t } from 'elysia'
import { component, literalUnion, nullableTime } from '../../lib/model-fields'
import { pageQuery, pageSchema } from '../../lib/pagination'
import { MAX_URL_LENGTH } from '../../lib/ssrf'
import { SUBSCRIBABLE_EVENT_TYPES } from '../../db/outbox'
import { webhookAttempts, webhookDeliveries } from '../../db/schema'
import { ENDPOINT_MAX_IN_FLIGHT } from './rules'

const deliveryStatus = (description?: string) => literalUnion(webhookDeliveries.status.enumValues, description ? { description } : {})
const EVENT_LIST = SUBSCRIBABLE_EVENT_TYPES.map((type) => `\`${type}\``).join(', ')

const eventsField = t.Array(t.Union([t.Literal('*'), ...SUBSCRIBABLE_EVENT_TYPES.map((type) => t.Literal(type))]), {
  maxItems: 20,
  description: `Event types to receive: any of ${EVENT_LIST}, or \`["*"]\` (or \`[]\`) for all of them, including types added later.`,
})
const headersField = t.Record(t.String(), t.String({ maxLength: 1000 }), {
  description:
    "Static headers added to every request, e.g. the receiver's own auth token. Stored as secrets (encrypted when `ASKAD_SECRET_KEY` is set): responses show the names only, " +
    'with the value `[redacted]`. Sending `headers` replaces the whole set. Standard Webhooks, `content-type`, `user-agent` and hop-by-hop headers cannot be set.',
})

const maxInFlightDescription =
  `Attempts askad sends to this endpoint at once, across all its processes (default ${ENDPOINT_MAX_IN_FLIGHT.default}). ` +
  'Raise it for a receiver that can take more (deliveries then keep up with a busier stream of events), lower it for a fragile one.'
// TypeBox's own integer: Elysia's `t.Integer` also takes numeric strings, and its refusals name neither bound.
const maxInFlightField = Type.Integer({ minimum: ENDPOINT_MAX_IN_FLIGHT.min, maximum: ENDPOINT_MAX_IN_FLIGHT.max, description: maxInFlightDescription })

export namespace WebhookModel {
  export const endpoint = component(
    'WebhookEndpoint',
    t.Object({
      id: t.String({ format: 'uuid' }),
      object: t.Literal('webhook_endpoint'),
      url: t.String(),
      description: t.String(),
      events: t.Array(t.String(), { description: '`["*"]` when subscribed to every event type.' }),
      enabled: t.Boolean(),
      disabled_reason: t.Union([t.String(), t.Null()], {
        description: 'Why askad disabled the endpoint (410 Gone, or 5 days without a 2xx); null when enabled or disabled by hand.',
      }),
      headers: t.Record(t.String(), t.String(), { description: 'Names of the static headers; values are never shown.' }),
      max_in_flight: Type.Integer({ description: maxInFlightDescription }),
      previous_secret_expires_at: nullableTime('After a rotation: until then requests carry a signature with the previous secret too.'),
      last_success_at: nullableTime('Time of the last 2xx answer.'),
      failing_since: nullableTime('First failed attempt since the last 2xx; null while healthy. 5 days of failures disable the endpoint.'),
      created_at: t.String({ format: 'date-time' }),
      updated_at: t.String({ format: 'date-time' }),
    }),
  )
  export type endpoint = typeof endpoint.static

  export const created = component(
    'WebhookEndpointCreated',
    t.Composite([endpoint, t.Object({ secret: t.String({ description: 'The signing secret (`whsec_…`). Shown only this once.' }) })]),
  )
  export type created = typeof created.static

  export const createBody = t.Object(
    {
      url: t.String({
        minLength: 1,
        maxLength: MAX_URL_LENGTH,
        description: 'http(s) URL of the receiver. Its host must resolve to public addresses (see the SSRF guard).',
      }),
      events: t.Optional(eventsField),
      description: t.Optional(t.String({ maxLength: 500 })),
      enabled: t.Optional(t.Boolean({ description: 'Default true.' })),
      headers: t.Optional(headersField),
      max_in_flight: t.Optional(maxInFlightField),
    },
    {
      additionalProperties: false,
      examples: [
        { url: 'https://crm.example.com/hooks/askad', events: ['lead.created', 'deal.closed'], description: 'CRM sync', headers: { 'x-crm-token': 'abc123' } },
      ],
    },
  )
  export type createBody = typeof createBody.static

  export const patchBody = t.Object(
    {
      url: t.Optional(createBody.properties.url),
      events: t.Optional(eventsField),
      description: t.Optional(t.String({ maxLength: 500 })),
      enabled: t.Optional(t.Boolean({ description: 'true re-enables an endpoint askad disabled, and resumes its pending deliveries.' })),
      headers: t.Optional(headersField),
      max_in_flight: t.Optional(maxInFlightField),
    },
    { additionalProperties: false, examples: [{ enabled: true }, { events: ['*'], url: 'https://crm.example.com/hooks/v2' }, { max_in_flight: 25 }] },
  )
  export type patchBody = typeof patchBody.static

  export const rotated = t.Object({
    id: t.String({ format: 'uuid' }),
    secret: t.String({ description: 'The new signing secret (`whsec_…`). Shown only this once.' }),
    previous_secret_expires_at: t.String({ format: 'date-time', description: 'Until then each request is signed with both secrets.' }),
  })

  export const attempt = component(
    'DeliveryAttempt',
    t.Object({
      attempt: t.Integer({ description: '1 for the first attempt of the delivery, counting manual ones.' }),
      trigger: literalUnion(webhookAttempts.trigger.enumValues),
      started_at: t.String({ format: 'date-time' }),
      duration_ms: t.Integer(),
      status_code: t.Union([t.Integer(), t.Null()]),
      error_class: t.Union([t.String({ enum: [...webhookAttempts.errorClass.enumValues] }), t.Null()], {
        description: 'null on success; `http` for a non-2xx answer (redirects included).',
      }),
      error_message: t.Union([t.String(), t.Null()]),
      response_body: t.Union([t.String(), t.Null()], { description: 'First 20 KB of the response body.' }),
      next_attempt_at: nullableTime('When the delivery is tried again after this attempt; null when it will not be.'),
    }),
  )

  export const delivery = component(
    'Delivery',
    t.Object({
      id: t.String({ format: 'uuid' }),
      object: t.Literal('webhook_delivery'),
      endpoint_id: t.String({ format: 'uuid' }),
      event_id: t.String({ description: 'The `webhook-id` header: the same on every attempt.' }),
      event_type: t.String(),
      status: deliveryStatus(),
      attempt_count: t.Integer(),
      next_attempt_at: nullableTime('When the next attempt is due; null unless pending.'),
      last_status_code: t.Union([t.Integer(), t.Null()]),
      last_error: t.Union([t.String(), t.Null()]),
      created_at: t.String({ format: 'date-time' }),
      updated_at: t.String({ format: 'date-time' }),
      attempts: t.Array(attempt, { description: 'Every attempt, oldest first.' }),
    }),
  )
  export type delivery = typeof delivery.static

  export const listQuery = t.Object({ ...pageQuery })
  export const list = pageSchema(endpoint)

  export const deliveriesQuery = t.Object({
    ...pageQuery,
    status: t.Optional(deliveryStatus('Only deliveries in this state.')),
  })
  export const deliveries = pageSchema(delivery)

  export const recoverBody = t.Object(
    { since: t.String({ format: 'date-time', description: 'RFC 3339 time: failed deliveries created at or after it are queued again.' }) },
    { additionalProperties: false, examples: [{ since: '2026-11-01T00:00:00Z' }] },
  )
  export type recoverBody = typeof recoverBody.static

  export const recovered = t.Object({ queued: t.Integer({ description: 'Failed deliveries queued for a new attempt.' }) })

  export const testSent = t.Object({
    event_id: t.String({ description: 'Id of the `webhook.test` event (its `webhook-id`).' }),
    delivery_id: t.String({ format: 'uuid', description: 'Follow it in the delivery log.' }),
  })

  export const idParams = t.Object({ id: t.String({ description: 'Webhook endpoint id.' }) })
  export const deliveryParams = t.Object({ id: t.String({ description: 'Webhook endpoint id.' }), did: t.String({ description: 'Delivery id.' }) })
}
