/** Overview: leads per day for 30 days (an inline SVG chart), leads by source, the newest leads. */
import type { ServiceDeps } from '../../deps'
import { leadTotals, leadsBySource, leadsPerDay, listLeads } from '../../modules/leads/service'
import { html, type Html } from '../html'
import { table } from '../layout'
import { LEAD_HEADERS, leadRow } from './leads'

const CHART_DAYS = 30
const NEWEST_LEADS = 10
const CHART_WIDTH = 600
const CHART_HEIGHT = 160

function chart(days: { day: string; count: number }[]): Html {
  const busiest = Math.max(0, ...days.map((d) => d.count))
  const max = Math.max(1, busiest)
  const slot = CHART_WIDTH / days.length
  const bars = days.map((d, i) => {
    const h = Math.round((d.count / max) * (CHART_HEIGHT - 20))
    return html`<rect x="${(i * slot + 1).toFixed(1)}" y="${CHART_HEIGHT - h}" width="${(slot - 2).toFixed(1)}" height="${h}"><title>${d.day}: ${d.count}</title></rect>`
  })
  const total = days.reduce((n, d) => n + d.count, 0)
  return html`<figure class="chart">
  <svg viewBox="0 0 ${CHART_WIDTH} ${CHART_HEIGHT}" role="img" aria-label="Leads per day, last ${days.length} days: ${total} in all" preserveAspectRatio="none">
    <line x1="0" y1="${CHART_HEIGHT - 0.5}" x2="${CHART_WIDTH}" y2="${CHART_HEIGHT - 0.5}" class="axis"></line>
    ${bars}
  </svg>
  <figcaption><span>${days[0]!.day}</span><span>total ${total} · busiest day ${busiest}</span><span>${days.at(-1)!.day}</span></figcaption>
</figure>`
}

/** Totals, the chart, leads by source and the newest leads. */
export async function overviewPage(deps: ServiceDeps, base: string, workspaceId: string, now: number): Promise<Html> {
  const [days, sources, { leads, contacts }, newest] = await Promise.all([
    leadsPerDay(deps, workspaceId, now, CHART_DAYS),
    leadsBySource(deps, workspaceId),
    leadTotals(deps, workspaceId),
    listLeads(deps, workspaceId, {}, { page: 1, limit: NEWEST_LEADS, afterSeq: null }).then((page) => page.data),
  ])
  return html`<section class="stats">
  <div class="stat"><span class="n">${leads}</span> leads</div>
  <div class="stat"><span class="n">${contacts}</span> contacts</div>
  <div class="stat"><span class="n">${days.reduce((n, d) => n + d.count, 0)}</span> leads in ${CHART_DAYS} days</div>
</section>
<section class="card">
  <h2>Leads per day</h2>
  ${chart(days)}
</section>
<div class="grid2">
  <section class="card">
    <h2>By source</h2>
    ${table(
      ['Source', 'Leads'],
      sources.map((s) => html`<tr><td><a href="${base}/leads?source=${encodeURIComponent(s.source)}">${s.source}</a></td><td class="num">${s.count}</td></tr>`),
      'No leads yet.',
    )}
  </section>
  <section class="card wide">
    <h2>Newest leads</h2>
    ${table(LEAD_HEADERS, newest.map(leadRow(base)), 'No leads yet. The Embed page has a form to paste into your site.')}
    <p><a href="${base}/leads">All leads →</a></p>
  </section>
</div>`
}
