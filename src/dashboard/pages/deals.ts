/** Deals by stage, as a board; each card moves to another stage through the deals service. */
import type { ServiceDeps } from '../../deps'
import { DEAL_STAGES, listDeals, type serializeDeal } from '../../modules/deals/service'
import { html, type Html } from '../html'
import { csrfField, type Viewer } from '../layout'

/** Cards shown per stage column; the count above each column is exact. */
const DEALS_PER_STAGE = 50

type DealView = ReturnType<typeof serializeDeal>

/** An amount with two decimals and its currency code: '1,234.50 USD'. */
export function money(value: number, currency: string): string {
  return `${value.toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency}`
}

/** A deal as a card; with a viewer it carries the form that moves it to another stage. */
export function dealCard(base: string, d: DealView, viewer: Viewer | null): Html {
  const move = viewer
    ? html`<form method="post" action="${base}/deals/${d.id}/stage" class="move">
    ${csrfField(viewer)}
    <label class="sr-only" for="stage-${d.id}">Stage of ${d.title}</label>
    <select id="stage-${d.id}" name="stage">${DEAL_STAGES.map((s) => html`<option${s === d.stage ? html` selected` : ''}>${s}</option>`)}</select>
    <button type="submit">Move</button>
  </form>`
    : html`<span class="badge ${d.stage}">${d.stage}</span>`
  return html`<article class="deal" data-deal="${d.id}">
  <h3>${d.title}</h3>
  <p class="value">${money(d.value, d.currency)}</p>
  ${d.contact_id ? html`<p><a href="${base}/contacts/${d.contact_id}">Contact</a></p>` : ''}
  ${move}
</article>`
}

/** One column per stage with its newest deals. */
export async function dealsPage(deps: ServiceDeps, workspaceId: string, viewer: Viewer): Promise<Html> {
  const pages = await Promise.all(DEAL_STAGES.map((stage) => listDeals(deps, workspaceId, { stage }, { page: 1, limit: DEALS_PER_STAGE, afterSeq: null })))
  const columns = DEAL_STAGES.map((stage, i) => {
    const page = pages[i]!
    const more = page.pagination.total - page.data.length
    return html`<section class="column" aria-labelledby="stage-h-${stage}">
  <h2 id="stage-h-${stage}">${stage} <span class="count">${page.pagination.total}</span></h2>
  ${page.data.map((d) => dealCard(viewer.base, d, viewer))}
  ${more > 0 ? html`<p class="muted small">${more} older not shown (GET /api/v1/deals?stage=${stage} lists all).</p>` : ''}
</section>`
  })
  return html`<p class="muted">Moving a deal to <b>won</b> or <b>lost</b> closes it and sends <code>deal.closed</code>, exactly as <code>PATCH /api/v1/deals/:id</code> does.</p>
<div class="board">${columns}</div>`
}
