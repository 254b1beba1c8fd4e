/** Contacts: a filterable, paginated table, and one contact with its leads and deals. */
import type { ServiceDeps } from '../../deps'
import { getContactDetail, listContacts } from '../../modules/contacts/service'
import { listDeals } from '../../modules/deals/service'
import { listLeads } from '../../modules/leads/service'
import { MAX_LIMIT, type PageRequest } from '../../lib/pagination'
import { MAX_SEARCH_LENGTH } from '../../modules/contacts/search'
import { html, type Html } from '../html'
import { csrfField, exportLink, pager, personName, table, when, type Viewer } from '../layout'
import { dealCard } from './deals'
import { LEAD_HEADERS, leadRow } from './leads'

export interface ContactQuery {
  q?: string
  email?: string
  source?: string
  page?: string
}

/** The filter form, one page of contacts and the pager. */
export async function contactsPage(deps: ServiceDeps, base: string, workspaceId: string, query: ContactQuery, req: PageRequest): Promise<Html> {
  const filters = { q: query.q || undefined, email: query.email || undefined, source: query.source || undefined }
  const page = await listContacts(deps, workspaceId, filters, req)
  const rows = page.data.map(
    (c) => html`<tr>
  <td><a href="${base}/contacts/${c.id}">${personName(c) || c.email || c.phone}</a></td>
  <td>${c.email}</td>
  <td>${c.phone}</td>
  <td>${c.first_source}</td>
  <td class="num">${c.lead_count}</td>
  <td>${when(c.updated_at)}</td>
</tr>`,
  )
  return html`<form class="filters" method="get" action="${base}/contacts" role="search">
  <label>Name, email or phone <input name="q" type="search" maxlength="${MAX_SEARCH_LENGTH}" value="${query.q ?? ''}" placeholder="Jane Sm"></label>
  <label>Email <input name="email" type="search" value="${query.email ?? ''}" placeholder="jane@example.com"></label>
  <label>First source <input name="source" type="search" value="${query.source ?? ''}" placeholder="website"></label>
  <button type="submit">Search</button>
  ${filters.q || filters.email || filters.source ? html`<a href="${base}/contacts">Clear</a>` : ''}
</form>
<p class="actions">${exportLink(`${base}/contacts.csv`, filters)} <a class="button" href="${base}/contacts/import">Import CSV</a></p>
${table(['Name', 'Email', 'Phone', 'First source', 'Leads', 'Updated'], rows, 'No contacts match.')}
${pager(`${base}/contacts`, { ...query }, page)}`
}

/**
 * One contact: its facts and metadata, a page of its leads, its deals, and (for a viewer who may,
 * `eraser`) the erase form.
 */
export async function contactPage(
  deps: ServiceDeps,
  base: string,
  workspaceId: string,
  id: string,
  req: PageRequest,
  canConvert = false,
  eraser: Viewer | null = null,
): Promise<{ title: string; content: Html }> {
  const contact = await getContactDetail(deps, workspaceId, id)
  const [leads, deals] = await Promise.all([
    listLeads(deps, workspaceId, { contactId: id }, req),
    listDeals(deps, workspaceId, { contactId: id }, { page: 1, limit: MAX_LIMIT, afterSeq: null }),
  ])
  const content = html`<section class="card">
  <dl class="facts">
    <dt>Email</dt><dd>${contact.email ?? '–'}</dd>
    <dt>Phone</dt><dd>${contact.phone ?? '–'}</dd>
    <dt>First source</dt><dd>${contact.first_source}</dd>
    <dt>Last source</dt><dd>${contact.last_source}</dd>
    <dt>Leads</dt><dd>${contact.lead_count}</dd>
    <dt>Created</dt><dd>${when(contact.created_at)}</dd>
    <dt>Updated</dt><dd>${when(contact.updated_at)}</dd>
  </dl>
  ${Object.keys(contact.metadata).length ? html`<details><summary>Metadata</summary><pre>${JSON.stringify(contact.metadata, null, 2)}</pre></details>` : ''}
</section>
<section class="card">
  <h2>Leads</h2>
  ${table(LEAD_HEADERS, leads.data.map(leadRow(base, canConvert)), 'No leads.')}
  ${pager(`${base}/contacts/${id}`, {}, leads)}
</section>
<section class="card">
  <h2>Deals</h2>
  ${deals.data.length ? html`<div class="cards">${deals.data.map((d) => dealCard(base, d, null))}</div>` : html`<p class="empty">No deals yet.</p>`}
  <p><a href="${base}/deals/new?contact=${id}">New deal for this contact</a></p>
</section>
${eraser ? eraseForm(base, eraser, id, contact.lead_count) : ''}`
  return { title: personName(contact) || contact.email || contact.phone || 'Contact', content }
}

/**
 * Erasure (GDPR Art. 17) behind two confirmations: a required "I understand" box, which works
 * without JavaScript (the server checks it too), and with JavaScript the data-confirm prompt.
 */
function eraseForm(base: string, viewer: Viewer, id: string, leadCount: number): Html {
  return html`<section class="card danger-zone">
  <h2>Erase this contact</h2>
  <p>Deletes the contact and its ${leadCount} ${leadCount === 1 ? 'lead' : 'leads'} with everything they hold, and removes the person from stored webhook
    events (GDPR right to erasure). Deals stay, without the link to the person. Webhook endpoints get <code>contact.deleted</code>. This cannot be undone.</p>
  <form method="post" action="${base}/contacts/${id}/erase" data-confirm="Erase this contact and all of its leads? This cannot be undone.">
    ${csrfField(viewer)}
    <label><input type="checkbox" name="understood" value="yes" required> I understand that this person's data is deleted for good</label>
    <button type="submit" class="danger">Erase contact</button>
  </form>
</section>`
}
