/** Leads: every submission, filterable by source and status, newest first. */
import type { ServiceDeps } from '../../deps'
import { leads } from '../../db/schema'
import { getLead, listLeads, serializeLead } from '../../modules/leads/service'
import type { PageRequest } from '../../lib/pagination'
import { html, type Html } from '../html'
import { csrfField, exportLink, pager, personName, table, when, type Viewer } from '../layout'
import { dealFields, type DealForm } from './deals'

/** A lead's status: a converted one links to its deal; an unconverted one offers Convert when `canConvert`. */
function leadStatus(base: string, l: ReturnType<typeof serializeLead>, canConvert: boolean): Html {
  if (l.status === 'converted' && l.deal_id) return html`<a class="badge converted" href="${base}/deals/${l.deal_id}">converted: deal →</a>`
  return html`<span class="badge ${l.status}">${l.status}</span>${canConvert && l.status === 'new' ? html` <a class="button" href="${base}/leads/${l.id}/convert">Convert</a>` : ''}`
}

/** One row of a leads table (this page, the overview, a contact); `canConvert` adds the Convert button to unconverted leads. */
export const leadRow =
  (base: string, canConvert = false) =>
  (l: ReturnType<typeof serializeLead>): Html => {
    return html`<tr>
  <td>${when(l.created_at)}</td>
  <td><a href="${base}/contacts/${l.contact_id}">${personName(l) || l.email || l.phone}</a></td>
  <td>${l.email}</td>
  <td>${l.phone}</td>
  <td>${l.source}</td>
  <td>${l.channel}</td>
  <td class="status">${leadStatus(base, l, canConvert)}</td>
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
export async function leadsPage(deps: ServiceDeps, base: string, workspaceId: string, query: LeadQuery, req: PageRequest, canConvert = false): Promise<Html> {
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
${table(LEAD_HEADERS, page.data.map(leadRow(base, canConvert)), 'No leads match.')}
${pager(`${base}/leads`, { ...query }, page)}`
}

/** The convert form as sent. */
export type ConvertForm = Omit<DealForm, 'contact'>

/** Converting one lead: who it is and the deal to create (title defaulting to the person's name); a converted lead links to its deal. */
export async function convertPage(
  deps: ServiceDeps,
  viewer: Viewer,
  workspaceId: string,
  id: string,
  form?: ConvertForm,
): Promise<{ title: string; content: Html }> {
  const l = serializeLead(await getLead(deps, workspaceId, id))
  const who = personName(l) || l.email || l.phone || 'Lead'
  const facts = html`<section class="card">
  <dl class="facts">
    <dt>Contact</dt><dd><a href="${viewer.base}/contacts/${l.contact_id}">${who}</a></dd>
    <dt>Email</dt><dd>${l.email ?? '–'}</dd>
    <dt>Phone</dt><dd>${l.phone ?? '–'}</dd>
    <dt>Source</dt><dd>${l.source}</dd>
    <dt>Received</dt><dd>${when(l.created_at)}</dd>
  </dl>
</section>`
  if (l.status === 'converted') {
    return {
      title: `Lead from ${who}`,
      content: html`${facts}<p>Already converted${l.deal_id ? html`: <a href="${viewer.base}/deals/${l.deal_id}">see its deal</a>` : ''}.</p>`,
    }
  }
  const shown = { title: who, value: '', currency: 'USD', stage: 'new', contact: '', ...form }
  return {
    title: `Convert ${who}`,
    content: html`${facts}
<form method="post" action="${viewer.base}/leads/${l.id}/convert" class="card stack" id="convert-lead">
  <h2>New deal</h2>
  ${csrfField(viewer)}
  ${dealFields(shown)}
  <p class="muted small">The lead is marked converted and <code>lead.converted</code> is sent; converting straight to won or lost also sends <code>deal.closed</code>.</p>
  <button type="submit" class="primary">Convert to deal</button>
</form>`,
  }
}
