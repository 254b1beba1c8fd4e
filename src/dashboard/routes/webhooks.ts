/** The webhook pages: endpoints, their settings and actions, and the delivery log. */
import { Elysia } from 'elysia'
import { formParser } from '../../plugins/body'
import { ApiError } from '../../errors'
import { checkModel } from '../../lib/check-model'
import { WebhookModel } from '../../modules/webhooks/model'
import { createEndpoint, deleteEndpoint, recoverDeliveries, retryDelivery, rotateSecret, sendTestEvent, updateEndpoint } from '../../modules/webhooks/service'
import { WEBHOOKS_PATH } from '../layout'
import { endpointPage, secretOnce, webhooksPage, type EndpointForm } from '../pages/webhooks'
import { type DashboardKit, field, fields, FORM_POST, HIDDEN, redirect, type SignedIn, utcTime } from '../kit'

/** The create and edit forms of an endpoint, as the API's models take them. */
function endpointForm(body: unknown): EndpointForm {
  const maxInFlight = (field(body, 'max_in_flight') ?? '').trim()
  return {
    url: (field(body, 'url') ?? '').trim(),
    description: field(body, 'description') ?? '',
    events: fields(body, 'events'),
    // Left empty: the default. Not a whole number: kept as typed, so the model's check names the field.
    ...(maxInFlight ? { max_in_flight: /^\d{1,9}$/.test(maxInFlight) ? Number(maxInFlight) : maxInFlight } : {}),
  }
}

/** Every webhook page and action, each needing `webhooks:manage`. */
export const webhookRoutes = (kit: DashboardKit) => {
  const { deps, clock, signedIn, needs, page, pageRequest } = kit

  /** Every webhook page and action needs `webhooks:manage`. */
  const webhooksAction = (handler: (c: SignedIn) => Response | Promise<Response>) => signedIn(needs('webhooks:manage', handler))

  const webhooksView = async (c: SignedIn, form?: EndpointForm, error?: ApiError) =>
    page(
      c,
      'Webhooks',
      await webhooksPage(deps, c.workspaceId, c.viewer, form),
      error?.status ?? 200,
      error ? [{ kind: 'error', text: error.detail }] : c.notices,
    )
  return new Elysia()
    .use(formParser)
    .get(
      WEBHOOKS_PATH,
      webhooksAction((c) => webhooksView(c)),
      HIDDEN,
    )
    .post(
      WEBHOOKS_PATH,
      webhooksAction(async (c) => {
        const form = endpointForm(c.body)
        try {
          const { endpoint, secret } = await createEndpoint(c.deps, c.workspaceId, checkModel(WebhookModel.createBody, form))
          return page(c, 'Webhooks', secretOnce(c.viewer.base, endpoint.id, secret, `Signing secret of ${endpoint.url}`), 201, [])
        } catch (error) {
          if (error instanceof ApiError) return webhooksView(c, form, error)
          throw error
        }
      }),
      FORM_POST,
    )
    .get(
      `${WEBHOOKS_PATH}/:id`,
      webhooksAction(async (c) => {
        const { title, content } = await endpointPage(deps, c.workspaceId, c.params.id!, c.viewer, pageRequest(c.query), clock.now())
        return page(c, title, content)
      }),
      HIDDEN,
    )
    .post(
      `${WEBHOOKS_PATH}/:id/edit`,
      webhooksAction(async (c) => {
        const form = endpointForm(c.body)
        try {
          await updateEndpoint(c.deps, c.workspaceId, c.params.id!, checkModel(WebhookModel.patchBody, form))
          return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=saved`)
        } catch (error) {
          if (!(error instanceof ApiError) || error.code === 'not_found') throw error
          const { title, content } = await endpointPage(deps, c.workspaceId, c.params.id!, c.viewer, pageRequest(c.query), clock.now(), form)
          return page(c, title, content, error.status, [{ kind: 'error', text: error.detail }])
        }
      }),
      FORM_POST,
    )
    .post(
      `${WEBHOOKS_PATH}/:id/test`,
      webhooksAction(async (c) => {
        await sendTestEvent(c.deps, c.workspaceId, c.params.id!)
        return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=test`)
      }),
      FORM_POST,
    )
    .post(
      `${WEBHOOKS_PATH}/:id/rotate`,
      webhooksAction(async (c) => {
        const { endpoint, secret } = await rotateSecret(c.deps, c.workspaceId, c.params.id!)
        return page(c, 'Webhooks', secretOnce(c.viewer.base, endpoint.id, secret, `New signing secret of ${endpoint.url}`), 200, [])
      }),
      FORM_POST,
    )
    .post(
      `${WEBHOOKS_PATH}/:id/enable`,
      webhooksAction(async (c) => {
        await updateEndpoint(c.deps, c.workspaceId, c.params.id!, { enabled: true })
        return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=enabled`)
      }),
      FORM_POST,
    )
    .post(
      `${WEBHOOKS_PATH}/:id/disable`,
      webhooksAction(async (c) => {
        await updateEndpoint(c.deps, c.workspaceId, c.params.id!, { enabled: false })
        return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=disabled`)
      }),
      FORM_POST,
    )
    .post(
      `${WEBHOOKS_PATH}/:id/recover`,
      webhooksAction(async (c) => {
        await recoverDeliveries(c.deps, c.workspaceId, c.params.id!, utcTime(field(c.body, 'since')))
        return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=recovered`)
      }),
      FORM_POST,
    )
    .post(
      `${WEBHOOKS_PATH}/:id/delete`,
      webhooksAction(async (c) => {
        // Ticking the box is the confirmation that works without a script.
        if (field(c.body, 'confirm') !== 'yes') {
          const { title, content } = await endpointPage(deps, c.workspaceId, c.params.id!, c.viewer, pageRequest(c.query), clock.now())
          return page(c, title, content, 422, [{ kind: 'error', text: 'Tick the box to confirm the deletion; nothing was deleted.' }])
        }
        await deleteEndpoint(c.deps, c.workspaceId, c.params.id!)
        return redirect(`${c.viewer.base}/settings/webhooks?done=endpoint_deleted`)
      }),
      FORM_POST,
    )
    .post(
      `${WEBHOOKS_PATH}/:id/deliveries/:did/retry`,
      webhooksAction(async (c) => {
        await retryDelivery(c.deps, c.workspaceId, c.params.id!, c.params.did!)
        return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=retried`)
      }),
      FORM_POST,
    )
}
