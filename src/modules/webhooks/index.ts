/** Webhook routes: endpoints, secret rotation, test events, the delivery log and manual redelivery. */
import { Elysia, t } from 'elysia'
import type { AppDeps } from '../../deps'
import { iso } from '../../lib/clock'
import { parsePageQuery, sendPage } from '../../lib/pagination'
import { problems, AUTH_ERRORS, BODY_ERRORS } from '../../errors/openapi'
import { API_PREFIX } from '../../lib/api-prefix'
import type { AuthPlugin } from '../../plugins/auth'
import { answerWrite } from '../../plugins/idempotency'
import { actingFor } from '../../plugins/request-context'
import { WebhookModel } from './model'
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  recoverDeliveries,
  retryDelivery,
  rotateSecret,
  sendTestEvent,
  serializeEndpoint,
  updateEndpoint,
} from './service'

const SSRF_NOTE =
  'The URL host is resolved and every address must be public: loopback, private, link-local (169.254.169.254 included), CGNAT, ' +
  'unspecified, multicast, reserved, IPv6 ULA/link-local and IPv4-mapped forms are refused with a 422 "blocked address", ' +
  'unless inside `ASKAD_WEBHOOK_ALLOW_CIDRS`. The same check runs again before every attempt, which then connects to the checked address (no DNS rebinding).'

/** The /webhooks routes. */
export const webhooksModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ prefix: '/webhooks', tags: ['Webhooks'] })
    .use(auth)
    .get(
      '',
      async ({ query, auth, request, set }) => {
        return sendPage(request.url, set, await listEndpoints(deps, auth.workspaceId, parsePageQuery(query)))
      },
      {
        scope: 'webhooks:manage',
        query: WebhookModel.listQuery,
        response: { 200: WebhookModel.list, ...problems(...AUTH_ERRORS, 422) },
        detail: {
          operationId: 'listWebhookEndpoints',
          summary: 'List webhook endpoints',
          description: 'Endpoints of the workspace, newest first, without their secrets. Scope `webhooks:manage`.',
        },
      },
    )
    .post(
      '',
      ({ body, auth, request, set }) =>
        answerWrite(
          { request, set },
          deps,
          (d) => createEndpoint(d, auth.workspaceId, body),
          ({ endpoint, secret }) => ({
            status: 201,
            headers: { location: `${API_PREFIX}/webhooks/${endpoint.id}`, 'cache-control': 'no-store' },
            body: { ...serializeEndpoint(endpoint), secret },
          }),
        ),
      {
        scope: 'webhooks:manage',
        body: WebhookModel.createBody,
        response: { 201: WebhookModel.created, ...problems(...BODY_ERRORS) },
        detail: {
          operationId: 'createWebhookEndpoint',
          summary: 'Create a webhook endpoint',
          description:
            'Registers a receiver for events (default: all). The response carries the signing secret `whsec_…` (32 random bytes, base64) ' +
            'exactly once; requests are signed per Standard Webhooks. A workspace has at most `ASKAD_WEBHOOK_MAX_ENDPOINTS` endpoints ' +
            '(default 20); one more is a 422 naming the limit. ' +
            SSRF_NOTE +
            ' Scope `webhooks:manage`.',
        },
      },
    )
    .get('/:id', async ({ params, auth }) => serializeEndpoint(await getEndpoint(deps, auth.workspaceId, params.id)), {
      scope: 'webhooks:manage',
      params: WebhookModel.idParams,
      response: { 200: WebhookModel.endpoint, ...problems(...AUTH_ERRORS, 404) },
      detail: {
        operationId: 'getWebhookEndpoint',
        summary: 'Get a webhook endpoint',
        description: 'One endpoint, its state and health, without its secret. Scope `webhooks:manage`.',
      },
    })
    .patch(
      '/:id',
      async ({ params, body, auth, request }) => serializeEndpoint(await updateEndpoint(actingFor(deps, request), auth.workspaceId, params.id, body)),
      {
        scope: 'webhooks:manage',
        params: WebhookModel.idParams,
        body: WebhookModel.patchBody,
        response: { 200: WebhookModel.endpoint, ...problems(...BODY_ERRORS, 404) },
        detail: {
          operationId: 'updateWebhookEndpoint',
          summary: 'Update a webhook endpoint',
          description:
            'Changes the fields sent. `enabled: true` re-enables an endpoint askad disabled (410 Gone, or 5 days without a 2xx) and resumes ' +
            'its pending deliveries; while disabled, new events are not queued for it. ' +
            SSRF_NOTE +
            ' Scope `webhooks:manage`.',
        },
      },
    )
    .delete(
      '/:id',
      async ({ params, auth, set, request }) => {
        await deleteEndpoint(actingFor(deps, request), auth.workspaceId, params.id)
        set.status = 204
      },
      {
        scope: 'webhooks:manage',
        params: WebhookModel.idParams,
        response: { 204: t.Void(), ...problems(...AUTH_ERRORS, 404) },
        detail: {
          operationId: 'deleteWebhookEndpoint',
          summary: 'Delete a webhook endpoint',
          description: 'Deletes the endpoint with its delivery log. Scope `webhooks:manage`.',
        },
      },
    )
    .post(
      '/:id/rotate-secret',
      ({ params, auth, request, set }) =>
        answerWrite(
          { request, set },
          deps,
          (d) => rotateSecret(d, auth.workspaceId, params.id),
          ({ endpoint, secret }) => ({
            status: 200,
            headers: { 'cache-control': 'no-store' },
            body: { id: endpoint.id, secret, previous_secret_expires_at: iso(endpoint.previousSecretExpiresAt)! },
          }),
        ),
      {
        scope: 'webhooks:manage',
        params: WebhookModel.idParams,
        response: { 200: WebhookModel.rotated, ...problems(...AUTH_ERRORS, 404) },
        detail: {
          operationId: 'rotateWebhookSecret',
          summary: 'Rotate the signing secret',
          description:
            'Returns a new secret, shown once. For 24 h every request carries two signatures, space-separated in `webhook-signature`: ' +
            'one with the new secret and one with the previous, so receivers can switch without losing events. Rotating again within ' +
            'those 24 h drops the oldest secret. Scope `webhooks:manage`.',
        },
      },
    )
    .post(
      '/:id/test',
      ({ params, auth, request, set }) =>
        answerWrite(
          { request, set },
          deps,
          (d) => sendTestEvent(d, auth.workspaceId, params.id),
          (sent) => ({ status: 202, body: { event_id: sent.eventId, delivery_id: sent.deliveryId } }),
        ),
      {
        scope: 'webhooks:manage',
        params: WebhookModel.idParams,
        response: { 202: WebhookModel.testSent, ...problems(...AUTH_ERRORS, 404, 409) },
        detail: {
          operationId: 'sendTestWebhook',
          summary: 'Send a test event',
          description:
            'Queues a `webhook.test` event for this endpoint only, sent at once like any other event (signed, retried, logged). ' +
            '409 when the endpoint is disabled. Scope `webhooks:manage`.',
        },
      },
    )
    .post(
      '/:id/recover',
      ({ params, body, auth, request, set }) =>
        answerWrite(
          { request, set },
          deps,
          (d) => recoverDeliveries(d, auth.workspaceId, params.id, body.since),
          (queued) => ({ status: 202, body: { queued } }),
        ),
      {
        scope: 'webhooks:manage',
        params: WebhookModel.idParams,
        body: WebhookModel.recoverBody,
        response: { 202: WebhookModel.recovered, ...problems(...BODY_ERRORS, 404, 409) },
        detail: {
          operationId: 'recoverWebhookDeliveries',
          summary: 'Recover failed deliveries',
          description:
            'Queues one manual attempt for every `failed` delivery of the endpoint created at or after `since`, with the original ' +
            '`webhook-id`. 409 when the endpoint is disabled (enable it first). Scope `webhooks:manage`.',
        },
      },
    )
    .get(
      '/:id/deliveries',
      async ({ params, query, auth, request, set }) => {
        return sendPage(request.url, set, await listDeliveries(deps, auth.workspaceId, params.id, query.status, parsePageQuery(query)))
      },
      {
        scope: 'webhooks:manage',
        params: WebhookModel.idParams,
        query: WebhookModel.deliveriesQuery,
        response: { 200: WebhookModel.deliveries, ...problems(...AUTH_ERRORS, 404, 422) },
        detail: {
          operationId: 'listWebhookDeliveries',
          summary: 'List deliveries',
          description:
            'The delivery log of an endpoint, newest first: each delivery with every attempt (number, trigger, start, duration, status code, ' +
            'error class, first 20 KB of the response body, next attempt time). Filter by `status`. Once every delivery of an event is settled ' +
            'and the event is older than `ASKAD_RETENTION_DAYS` (30 days), it leaves the log with its attempts. Scope `webhooks:manage`.',
        },
      },
    )
    .post(
      '/:id/deliveries/:did/retry',
      ({ params, auth, request, set }) =>
        answerWrite(
          { request, set },
          deps,
          (d) => retryDelivery(d, auth.workspaceId, params.id, params.did),
          (delivery) => ({ status: 202, body: delivery }),
        ),
      {
        scope: 'webhooks:manage',
        params: WebhookModel.deliveryParams,
        response: { 202: WebhookModel.delivery, ...problems(...AUTH_ERRORS, 404, 409) },
        detail: {
          operationId: 'retryWebhookDelivery',
          summary: 'Retry a delivery',
          description:
            'Queues one manual attempt of the delivery now, with its original `webhook-id`, whatever its state (a succeeded one is replayed). ' +
            'If it fails and scheduled retries remain, the schedule continues; otherwise the delivery is `failed` again. ' +
            '409 while an attempt is in flight or the endpoint is disabled. Scope `webhooks:manage`.',
        },
      },
    )
