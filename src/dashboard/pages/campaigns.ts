/**
 * Campaigns: the list with spend against budget and thresholds, the create form, and one campaign
 * with its edit and spend forms, when each threshold fired and the deliveries of those events.
 */
import { formatMoney } from '../../lib/money'
import type { PageRequest } from '../../lib/pagination'
import { getCampaign, listCampaigns, serializeCampaign, type Campaign } from '../../modules/campaigns/service'
import { deliveriesOfEvents } from '../../modules/webhooks/service'
import type { ServiceDeps } from '../../deps'
import { html, type Html } from '../html'
import { csrfField, pager, table, when, type Viewer } from '../layout'
import { money } from './deals'

type CampaignView = ReturnType<typeof serializeCampaign>

/** The create form as sent, to show again next to an error. */
export interface CampaignForm {
  name: string
  currency: string
  budget: string
  thresholds: string
}

/** The spend form as sent. */
export interface SpendForm {
  mode: string
  amount: string
}

const EMPTY_CAMPAIGN: CampaignForm = { name: '', currency: 'USD', budget: '', thresholds: '' }
const EMPTY_SPEND: SpendForm = { mode: 'add', amount: '' }

/** Threshold firings listed on a campaign's page (newest), and so the events whose deliveries are shown. */
const CROSSINGS_SHOWN = 100

/** Thresholds as the form shows them: a space-separated list of decimals. */
export function thresholdText(amounts: number[]): string {
  return amounts.join(' ')
}

/** Spend against budget, as text and a bar (a `<meter>`, which needs no script). */
function spendCell(c: CampaignView): Html {
  if (c.budget === null) return html`${money(c.spend, c.currency)} <span class="muted small">no budget</span>`
  const share = c.budget > 0 ? Math.round((c.spend / c.budget) * 100) : 0
  return html`${money(c.spend, c.currency)} of ${money(c.budget, c.currency)} <span class="muted small">(${share} %)</span><br><meter min="0" max="${c.budget}" high="${c.budget * 0.9}" value="${Math.min(c.spend, c.budget)}">${share} %</meter>`
}

/** Each threshold as a badge, the fired ones marked. */
function thresholdBadges(c: CampaignView): Html {
  if (c.spend_thresholds.length === 0) return html`<span class="muted">none</span>`
  return html`<span class="thresholds">${c.spend_thresholds.map((t) =>
    c.thresholds_crossed.includes(t) ? html`<span class="badge good" title="fired">${t} ✓</span>` : html`<span class="badge">${t}</span>`,
  )}</span>`
}

function campaignFields(form: CampaignForm, withCurrency: boolean): Html {
  return html`<label>Name <input name="name" value="${form.name}" maxlength="200" required placeholder="Spring search ads"></label>
  ${withCurrency ? html`<label>Currency <input name="currency" value="${form.currency}" maxlength="3" required autocapitalize="characters" placeholder="USD"></label>` : ''}
  <label>Budget (optional) <input name="budget" inputmode="decimal" value="${form.budget}" placeholder="5000"></label>
  <label>Spend thresholds (amounts separated by spaces or commas; each fires <code>campaign.spend_threshold</code> once)
    <input name="spend_thresholds" inputmode="decimal" value="${form.thresholds}" placeholder="1000 2500 4500.50"></label>`
}

/** The workspace's campaigns and, with `campaigns:write`, the create form. */
export async function campaignsPage(
  deps: ServiceDeps,
  workspaceId: string,
  viewer: Viewer,
  req: PageRequest,
  form?: CampaignForm,
  canWrite = true,
): Promise<Html> {
  const page = await listCampaigns(deps, workspaceId, req)
  const rows = page.data.map(
    (c) => html`<tr data-campaign="${c.id}">
  <td><a href="${viewer.base}/campaigns/${c.id}">${c.name}</a></td>
  <td>${c.currency}</td>
  <td>${spendCell(c)}</td>
  <td>${thresholdBadges(c)}</td>
  <td>${when(c.updated_at)}</td>
</tr>`,
  )
  return html`${table(['Campaign', 'Currency', 'Spend', 'Thresholds (✓ fired)', 'Updated'], rows, 'No campaigns yet.')}
${pager(`${viewer.base}/campaigns`, {}, page)}
${
  canWrite
    ? html`<form method="post" action="${viewer.base}/campaigns" class="card stack" id="create-campaign">
  <h2>Create a campaign</h2>
  ${csrfField(viewer)}
  ${campaignFields(form ?? EMPTY_CAMPAIGN, true)}
  <button type="submit" class="primary">Create campaign</button>
</form>`
    : ''
}`
}

/** What the campaign page shows beside the campaign: forms as sent after an error, and whether the viewer may see deliveries. */
export interface CampaignPageOpts {
  edit?: CampaignForm
  spend?: SpendForm
  canWrite: boolean
  canSeeDeliveries: boolean
}

/** One campaign: facts, when each threshold fired, the deliveries of those events, and the edit and spend forms. */
export async function campaignPage(
  deps: ServiceDeps,
  workspaceId: string,
  id: string,
  viewer: Viewer,
  opts: CampaignPageOpts,
): Promise<{ title: string; content: Html }> {
  const row: Campaign = await getCampaign(deps, workspaceId, id)
  const c = serializeCampaign(row)
  const here = `${viewer.base}/campaigns/${c.id}`
  const crossings = row.thresholdCrossings.slice(-CROSSINGS_SHOWN).reverse()
  const firedAt = new Map(row.thresholdCrossings.map((x) => [formatMoney(x.threshold), x]))
  const thresholdRows = c.spend_thresholds.map((t) => {
    const fired = c.thresholds_crossed.includes(t)
    const at = firedAt.get(t)
    return html`<tr data-threshold="${t}">
  <td class="num">${money(t, c.currency)}</td>
  <td>${fired ? html`<span class="badge good">fired</span>` : html`<span class="badge">not yet</span>`}</td>
  <td>${fired && at ? when(new Date(at.at).toISOString()) : when(null)}</td>
  <td>${fired && at ? html`<code>${at.eventId}</code>` : ''}</td>
</tr>`
  })
  const eventThreshold = new Map(crossings.map((x) => [x.eventId, formatMoney(x.threshold)]))
  const deliveries = opts.canSeeDeliveries
    ? await deliveriesOfEvents(
        deps,
        workspaceId,
        crossings.map((x) => x.eventId),
      )
    : []
  const deliveryRows = deliveries.map(
    (d) => html`<tr data-delivery="${d.id}">
  <td class="num">${money(eventThreshold.get(d.event_id) ?? 0, c.currency)}</td>
  <td><a href="${viewer.base}/settings/webhooks/${d.endpoint_id}">${d.endpoint_url}</a></td>
  <td><span class="badge ${d.status === 'succeeded' ? 'good' : d.status === 'failed' ? 'bad' : 'warn'}">${d.status}</span></td>
  <td class="num">${d.attempt_count}</td>
  <td>${d.last_status_code ?? '–'}</td>
  <td>${when(d.created_at)}</td>
</tr>`,
  )
  const edit = opts.edit ?? {
    name: c.name,
    currency: c.currency,
    budget: c.budget === null ? '' : String(c.budget),
    thresholds: thresholdText(c.spend_thresholds),
  }
  const spend = opts.spend ?? EMPTY_SPEND
  const content = html`<section class="card">
  <dl class="facts">
    <dt>Currency</dt><dd>${c.currency}</dd>
    <dt>Spend</dt><dd>${spendCell(c)}</dd>
    <dt>Thresholds</dt><dd>${thresholdBadges(c)}</dd>
    <dt>Created</dt><dd>${when(c.created_at)}</dd>
    <dt>Updated</dt><dd>${when(c.updated_at)}</dd>
  </dl>
</section>
${
  opts.canWrite
    ? html`<form method="post" action="${here}/spend" class="card stack" id="record-spend">
  <h2>Record spend</h2>
  ${csrfField(viewer)}
  <fieldset class="row">
    <legend>How</legend>
    <label><input type="radio" name="mode" value="add"${spend.mode !== 'total' ? html` checked` : ''}> Add an amount</label>
    <label><input type="radio" name="mode" value="total"${spend.mode === 'total' ? html` checked` : ''}> Set the total (not below the current spend)</label>
  </fieldset>
  <label>Amount (${c.currency}) <input name="amount" inputmode="decimal" value="${spend.amount}" required placeholder="120.50"></label>
  <button type="submit" class="primary">Record spend</button>
</form>`
    : ''
}
<section class="card">
  <h2>Thresholds</h2>
  ${table(['Amount', 'Status', 'Fired', 'Event'], thresholdRows, 'No thresholds.')}
</section>
<section class="card">
  <h2>Deliveries of <code>campaign.spend_threshold</code></h2>
  ${
    opts.canSeeDeliveries
      ? table(
          ['Threshold', 'Endpoint', 'Status', 'Attempts', 'Last HTTP status', 'Queued'],
          deliveryRows,
          'No deliveries: no threshold fired yet, or no endpoint subscribes to the event.',
        )
      : html`<p class="muted">Seeing deliveries needs the <code>webhooks:manage</code> scope.</p>`
  }
</section>
${
  opts.canWrite
    ? html`<details class="card"${opts.edit ? html` open` : ''}>
  <summary>Edit name, budget and thresholds</summary>
  <form method="post" action="${here}/edit" class="stack" id="edit-campaign">
  ${csrfField(viewer)}
  ${campaignFields(edit, false)}
  <p class="muted small">Thresholds already fired never fire again, even when removed and added back; a new threshold at or below the spend fires at once. An empty budget removes it.</p>
  <button type="submit" class="primary">Save</button>
  </form>
</details>`
    : ''
}`
  return { title: c.name, content }
}
