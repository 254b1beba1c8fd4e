/** Leads: every submission, filterable by source and status, newest first. */
import type { ServiceDeps } from '../../deps'
import { leads } from '../../db/schema'
import { listLeads, type serializeLead } from '../../modules/leads/service'
import type { PageRequest } from '../../lib/pagination'
import { html, type Html } from '../html'
import { exportLink, pager, personName, table, when } from '../layout'

/** One row of a leads table (this page, the overview, a contact). */
export const leadRow =
  (base: string) =>
  (l: ReturnType<typeof serializeLead>): Html => {
    return html`<tr>
  <td>${when(l.created_at)}</td>
  <td><a href="${base}/contacts/${l.contact_id}">${personName(l) || l.email || l.phone}</a></td>
  <td>${l.email}</td>
  <td>${l.phone}</td>
  <td>${l.source}</td>
  <td>${l.channel}</td>
  <td><span class="badge ${l.status}">${l.status}</span></td>
</tr>`
  }

/** The column headings of `leadRow`. */
export const LEAD_HEADERS = ['Received', 'Name', 'Email', 'Phone', 'Source', 'Channel', 'Status']

export interface LeadQuery {
  source?: string
  status?: string
  page?: string
}

/** The filter form, one page of leads and the pager. */
export async function leadsPage(deps: ServiceDeps, base: string, workspaceId: string, query: LeadQuery, req: PageRequest): Promise<Html> {
  const page = await listLeads(deps, workspaceId, { source: query.source || undefined, status: query.status || undefined }, req)
  return html`<form class="filters" method="get" action="${base}/leads" role="search">
  <label>Source <input name="source" type="search" value="${query.source ?? ''}" placeholder="website"></label>
  <label>Status <select name="status">
    <option value="">any</option>
    ${leads.status.enumValues.map((s) => html`<option${s === query.status ? html` selected` : ''}>${s}</option>`)}
  </select></label>
  <button type="submit">Search</button>
  ${query.source || query.status ? html`<a href="${base}/leads">Clear</a>` : ''}
</form>
<p class="actions">${exportLink(`${base}/leads.csv`, { source: query.source || undefined, status: query.status || undefined })}</p>
${table(LEAD_HEADERS, page.data.map(leadRow(base)), 'No leads match.')}
${pager(`${base}/leads`, { ...query }, page)}`
}
