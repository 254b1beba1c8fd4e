/** Settings > Webhooks: endpoints with their health, creation (secret shown once), and one endpoint's delivery log and actions. */
import type { PageRequest } from '../../lib/pagination'
import { eventPayloads, getEndpoint, listDeliveries, listEndpoints, serializeEndpoint, type serializeDelivery } from '../../modules/webhooks/service'
import type { WebhooksStoreDeps } from '../../modules/webhooks/store'
import { SUBSCRIBABLE_EVENT_TYPES } from '../../db/outbox'
import { ENDPOINT_MAX_IN_FLIGHT } from '../../modules/webhooks/rules'
import { html, type Html } from '../html'
import { actionButton, csrfField, pager, table, when, type Viewer } from '../layout'

/** Endpoints listed on one page; a workspace has a handful. */
const ENDPOINTS_SHOWN = 200

type EndpointView = ReturnType<typeof serializeEndpoint>
type DeliveryView = ReturnType<typeof serializeDelivery>

export interface EndpointForm {
  url: string
  description: string
  events: string[]
  /** As typed when it is not a whole number, so that the model's check refuses it. */
  max_in_flight?: number | string
}

const EMPTY_FORM: EndpointForm = { url: '', description: '', events: [] }

/** Health in one word, from what the dispatcher records on the endpoint. */
function health(e: EndpointView): Html {
  if (!e.enabled) return html`<span class="badge bad" title="${e.disabled_reason ?? 'disabled by hand'}">disabled</span>`
  if (e.failing_since) return html`<span class="badge warn">failing since ${e.failing_since.slice(0, 16).replace('T', ' ')}</span>`
  if (e.last_success_at) return html`<span class="badge good">healthy</span>`
  return html`<span class="badge">no deliveries yet</span>`
}

/** URL, description, attempts at once and events: the fields the create and edit forms share. */
function endpointFields(form: EndpointForm): Html {
  const { min, max, default: byDefault } = ENDPOINT_MAX_IN_FLIGHT
  return html`<label>URL <input name="url" type="url" value="${form.url}" placeholder="https://example.com/webhooks/askad" required></label>
  <label>Description <input name="description" value="${form.description}" maxlength="500"></label>
  <label>Attempts at once (${min}–${max}; more for a receiver that can take more) <input name="max_in_flight" type="number" min="${min}" max="${max}" value="${form.max_in_flight ?? ''}" placeholder="${byDefault}"></label>
  <fieldset>
    <legend>Events (none ticked = all, including types added later)</legend>
    <div class="checks">${SUBSCRIBABLE_EVENT_TYPES.map((t) => html`<label><input type="checkbox" name="events" value="${t}"${form.events.includes(t) ? html` checked` : ''}> <code>${t}</code></label>`)}</div>
  </fieldset>`
}

function createForm(viewer: Viewer, form: EndpointForm): Html {
  return html`<form method="post" action="${viewer.base}/settings/webhooks" class="card stack" id="create-webhook">
  <h2>Add an endpoint</h2>
  ${csrfField(viewer)}
  ${endpointFields(form)}
  <button type="submit" class="primary">Add endpoint</button>
</form>`
}

/** Folded away unless it comes back with an error, then open with what was sent. */
function editForm(viewer: Viewer, base: string, form: EndpointForm, open: boolean): Html {
  return html`<details class="card"${open ? html` open` : ''}>
  <summary>Edit URL, description, attempts at once and events</summary>
  <form method="post" action="${base}/edit" class="stack" id="edit-webhook">
  ${csrfField(viewer)}
  ${endpointFields(form)}
  <button type="submit" class="primary">Save</button>
  </form>
</details>`
}

/** The endpoints with their health, then the create form. */
export async function webhooksPage(deps: WebhooksStoreDeps, workspaceId: string, viewer: Viewer, form: EndpointForm = EMPTY_FORM): Promise<Html> {
  const endpoints = (await listEndpoints(deps, workspaceId, { page: 1, limit: ENDPOINTS_SHOWN, afterSeq: null })).data
  const rows = endpoints.map(
    (e) => html`<tr>
  <td><a href="${viewer.base}/settings/webhooks/${e.id}">${e.url}</a>${e.description ? html`<br><span class="muted small">${e.description}</span>` : ''}</td>
  <td class="scopes">${e.events.join(', ')}</td>
  <td>${health(e)}</td>
  <td>${when(e.last_success_at)}</td>
</tr>`,
  )
  return html`${table(['Endpoint', 'Events', 'Health', 'Last success'], rows, 'No endpoints yet.')}
${createForm(viewer, form)}`
}

/** The one time a signing secret is shown: after creation or rotation. */
export function secretOnce(base: string, endpointId: string, secret: string, what: string): Html {
  return html`<section class="card once" role="status">
  <h2>${what}</h2>
  <p><b>Copy it now.</b> Use it to verify the <code>webhook-signature</code> header (Standard Webhooks); it is not shown again.</p>
  <div class="secret"><code id="new-secret">${secret}</code><button type="button" data-copy="new-secret">Copy</button></div>
  <p><a href="${base}/settings/webhooks/${endpointId}">Continue to the endpoint</a></p>
</section>`
}

/** The body sent (the stored event), pretty-printed, folded away. */
function payloadDetails(payload: string | undefined): Html {
  if (payload === undefined) return html``
  let pretty = payload
  try {
    pretty = JSON.stringify(JSON.parse(payload), null, 2)
  } catch {
    // Shown as stored: the body was sent byte for byte like this.
  }
  return html`<details class="payload"><summary>Payload sent</summary><pre>${pretty}</pre></details>`
}

function attemptsTable(d: DeliveryView): Html {
  return table(
    ['#', 'Trigger', 'Started', 'Duration', 'Status', 'Error', 'Response'],
    d.attempts.map(
      (a) => html`<tr>
  <td>${a.attempt}</td>
  <td>${a.trigger}</td>
  <td>${when(a.started_at)}</td>
  <td class="num">${a.duration_ms} ms</td>
  <td>${a.status_code ?? '–'}</td>
  <td>${a.error_class ? html`<b>${a.error_class}</b> ${a.error_message}` : ''}</td>
  <td>${a.response_body ? html`<details><summary>body</summary><pre>${a.response_body}</pre></details>` : ''}</td>
</tr>`,
    ),
    'Not attempted yet.',
  )
}

/** One endpoint: its settings and actions (the edit form holding `form` when given), then a page of its delivery log. */
export async function endpointPage(
  deps: WebhooksStoreDeps,
  workspaceId: string,
  id: string,
  viewer: Viewer,
  req: PageRequest,
  now: number,
  form?: EndpointForm,
): Promise<{ title: string; content: Html }> {
  const e = serializeEndpoint(await getEndpoint(deps, workspaceId, id))
  const deliveries = await listDeliveries(deps, workspaceId, id, undefined, req)
  const payloads = await eventPayloads(
    deps,
    workspaceId,
    deliveries.data.map((d) => d.event_id),
  )
  const here = `${viewer.base}/settings/webhooks/${e.id}`
  const dayAgo = new Date(now - 24 * 60 * 60 * 1000).toISOString().slice(0, 16)
  const items = deliveries.data.map(
    (d) => html`<article class="delivery" data-delivery="${d.id}" data-event-type="${d.event_type}">
  <header>
    <code>${d.event_type}</code>
    <span class="badge ${d.status === 'succeeded' ? 'good' : d.status === 'failed' ? 'bad' : 'warn'}">${d.status}</span>
    <span class="muted small">${when(d.created_at)} · ${d.attempt_count} attempt${d.attempt_count === 1 ? '' : 's'}${d.next_attempt_at ? html` · next ${when(d.next_attempt_at)}` : ''}</span>
    ${e.enabled ? actionButton(viewer, `${here}/deliveries/${d.id}/retry`, 'Retry') : ''}
  </header>
  ${payloadDetails(payloads.get(d.event_id))}
  ${attemptsTable(d)}
</article>`,
  )
  const content = html`<section class="card">
  <dl class="facts">
    <dt>URL</dt><dd><code>${e.url}</code></dd>
    <dt>Description</dt><dd>${e.description || '–'}</dd>
    <dt>Events</dt><dd>${e.events.join(', ')}</dd>
    <dt>Attempts at once</dt><dd>${e.max_in_flight}</dd>
    <dt>Health</dt><dd>${health(e)}${e.disabled_reason ? html` <span class="muted">${e.disabled_reason}</span>` : ''}</dd>
    <dt>Last success</dt><dd>${when(e.last_success_at)}</dd>
    <dt>Previous secret valid until</dt><dd>${when(e.previous_secret_expires_at)}</dd>
  </dl>
  <div class="actions">
    ${e.enabled ? actionButton(viewer, `${here}/test`, 'Send test event') : ''}
    ${actionButton(viewer, `${here}/rotate`, 'Rotate secret', { confirm: 'Rotate the signing secret? The current one keeps signing for 24 hours.' })}
    ${
      e.enabled
        ? actionButton(viewer, `${here}/disable`, 'Disable', {
            className: 'danger',
            confirm: 'Disable this endpoint? Events are not queued for it while disabled.',
          })
        : actionButton(viewer, `${here}/enable`, 'Enable', { className: 'primary' })
    }
  </div>
  ${
    e.enabled
      ? html`<form method="post" action="${here}/recover" class="row recover">
    ${csrfField(viewer)}
    <label>Re-send every failed delivery since <input type="datetime-local" name="since" value="${dayAgo}" required> UTC</label>
    <button type="submit">Recover</button>
  </form>`
      : ''
  }
</section>
${editForm(viewer, here, form ?? { url: e.url, description: e.description, events: e.events.filter((t) => t !== '*'), max_in_flight: e.max_in_flight }, form !== undefined)}
<details class="card danger-zone">
  <summary>Delete this endpoint</summary>
  <form method="post" action="${here}/delete" class="stack" data-confirm="Delete ${e.url} with its delivery log? This cannot be undone.">
    ${csrfField(viewer)}
    <p>Deleting removes the endpoint, its pending deliveries and its delivery log. Events are no longer sent to it.</p>
    <label class="check"><input type="checkbox" name="confirm" value="yes" required> Yes, delete <code>${e.url}</code></label>
    <button type="submit" class="danger">Delete endpoint</button>
  </form>
</details>
<section>
  <h2>Deliveries</h2>
  ${items.length ? items : html`<p class="empty">No deliveries yet. Send a test event, or wait for the next lead.</p>`}
  ${pager(here, {}, deliveries)}
</section>`
  return { title: e.url, content }
}
