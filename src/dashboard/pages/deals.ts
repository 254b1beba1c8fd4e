/**
 * Deals by stage, as a board with each column's count and value per currency; a card moves to another
 * stage through the deals service (a select and a button, or dragged with dashboard.js). One deal's
 * page edits it; another page creates one.
 */
import type { ServiceDeps } from '../../deps'
import { DEAL_STAGES, dealTotals, getDeal, listDeals, serializeDeal } from '../../modules/deals/service'
import { html, type Html } from '../html'
import { csrfField, when, type Viewer } from '../layout'

/** Cards shown per stage column; the count and totals above each column are exact. */
const DEALS_PER_STAGE = 50

type DealView = ReturnType<typeof serializeDeal>

/** An amount with two decimals and its currency code: '1,234.50 USD'. */
export function money(value: number, currency: string): string {
  return `${value.toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency}`
}

/** The deal form's fields as sent (the create and edit forms, and converting a lead). */
export interface DealForm {
  title: string
  value: string
  currency: string
  stage: string
  contact: string
}

/** A deal as a card; with a viewer it carries the form that moves it to another stage, and can be dragged to another column. */
export function dealCard(base: string, d: DealView, viewer: Viewer | null): Html {
  const move = viewer
    ? html`<form method="post" action="${base}/deals/${d.id}/stage" class="move">
    ${csrfField(viewer)}
    <label class="sr-only" for="stage-${d.id}">Stage of ${d.title}</label>
    <select id="stage-${d.id}" name="stage">${DEAL_STAGES.map((s) => html`<option${s === d.stage ? html` selected` : ''}>${s}</option>`)}</select>
    <button type="submit">Move</button>
  </form>`
    : html`<span class="badge ${d.stage}">${d.stage}</span>`
  return html`<article class="deal" data-deal="${d.id}"${viewer ? html` draggable="true"` : ''}>
  <h3><a href="${base}/deals/${d.id}">${d.title}</a></h3>
  <p class="value">${money(d.value, d.currency)}</p>
  ${d.contact_id ? html`<p><a href="${base}/contacts/${d.contact_id}">Contact</a></p>` : ''}
  ${move}
</article>`
}

/** One column per stage with its count, its value per currency and its newest deals; `viewer` null shows no move forms. */
export async function dealsPage(deps: ServiceDeps, workspaceId: string, viewer: Viewer, canWrite = true): Promise<Html> {
  const [pages, totals] = await Promise.all([
    Promise.all(DEAL_STAGES.map((stage) => listDeals(deps, workspaceId, { stage }, { page: 1, limit: DEALS_PER_STAGE, afterSeq: null }))),
    dealTotals(deps, workspaceId),
  ])
  const columns = DEAL_STAGES.map((stage, i) => {
    const page = pages[i]!
    const more = page.pagination.total - page.data.length
    const sums = totals.filter((t) => t.stage === stage)
    return html`<section class="column" data-stage="${stage}" aria-labelledby="stage-h-${stage}">
  <h2 id="stage-h-${stage}">${stage} <span class="count">${page.pagination.total}</span></h2>
  <p class="totals small">${sums.length ? sums.map((t, j) => html`${j ? html`<br>` : ''}<span data-currency="${t.currency}">${money(t.value, t.currency)}</span>`) : html`<span class="muted">–</span>`}</p>
  ${page.data.map((d) => dealCard(viewer.base, d, canWrite ? viewer : null))}
  ${more > 0 ? html`<p class="muted small">${more} older not shown (GET /api/v1/deals?stage=${stage} lists all).</p>` : ''}
</section>`
  })
  return html`${canWrite ? html`<p><a class="button primary" href="${viewer.base}/deals/new">New deal</a></p>` : ''}
<p class="muted">Moving a deal to <b>won</b> or <b>lost</b> closes it and sends <code>deal.closed</code>, exactly as <code>PATCH /api/v1/deals/:id</code> does.${canWrite ? ' Drag a card to another column, or pick its stage and press Move.' : ''}</p>
<div class="board">${columns}</div>`
}

/** Title, value, currency and stage: the fields the deal forms share. */
export function dealFields(form: DealForm): Html {
  return html`<label>Title <input name="title" value="${form.title}" maxlength="200" required></label>
  <div class="row">
    <label>Value <input name="value" inputmode="decimal" value="${form.value}" placeholder="0"></label>
    <label>Currency <input name="currency" value="${form.currency}" maxlength="3" autocapitalize="characters" placeholder="USD"></label>
    <label>Stage <select name="stage">${DEAL_STAGES.map((s) => html`<option${s === form.stage ? html` selected` : ''}>${s}</option>`)}</select></label>
  </div>`
}

/** The create form; `form.contact` (a contact id, optional) comes from the contact's page link. */
export function newDealPage(viewer: Viewer, form: DealForm): Html {
  return html`<form method="post" action="${viewer.base}/deals" class="card stack" id="create-deal">
  ${csrfField(viewer)}
  ${dealFields(form)}
  <label>Contact id (optional) <input name="contact_id" value="${form.contact}" placeholder="from the contact's page"></label>
  <p class="muted small">Creating a deal as won or lost sends <code>deal.closed</code>.</p>
  <button type="submit" class="primary">Create deal</button>
</form>`
}

/** One deal: its facts and, with `deals:write`, the edit form (holding `form` after an error). */
export async function dealPage(
  deps: ServiceDeps,
  workspaceId: string,
  id: string,
  viewer: Viewer,
  canWrite: boolean,
  form?: DealForm,
): Promise<{ title: string; content: Html }> {
  const d = serializeDeal(await getDeal(deps, workspaceId, id))
  const shown = form ?? { title: d.title, value: String(d.value), currency: d.currency, stage: d.stage, contact: d.contact_id ?? '' }
  const content = html`<section class="card">
  <dl class="facts">
    <dt>Value</dt><dd>${money(d.value, d.currency)}</dd>
    <dt>Stage</dt><dd><span class="badge ${d.stage}">${d.stage}</span></dd>
    <dt>Contact</dt><dd>${d.contact_id ? html`<a href="${viewer.base}/contacts/${d.contact_id}">${d.contact_id}</a>` : '–'}</dd>
    <dt>Closed</dt><dd>${when(d.closed_at)}</dd>
    <dt>Created</dt><dd>${when(d.created_at)}</dd>
    <dt>Updated</dt><dd>${when(d.updated_at)}</dd>
  </dl>
  ${Object.keys(d.metadata).length ? html`<details><summary>Metadata</summary><pre>${JSON.stringify(d.metadata, null, 2)}</pre></details>` : ''}
</section>
${
  canWrite
    ? html`<form method="post" action="${viewer.base}/deals/${d.id}/edit" class="card stack" id="edit-deal">
  <h2>Edit</h2>
  ${csrfField(viewer)}
  ${dealFields(shown)}
  <p class="muted small">Entering won or lost from another stage sends <code>deal.closed</code>.</p>
  <button type="submit" class="primary">Save</button>
</form>`
    : ''
}
<p><a href="${viewer.base}/deals">← Board</a></p>`
  return { title: d.title, content }
}
