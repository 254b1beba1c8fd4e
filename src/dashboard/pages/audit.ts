/** The audit-log page: who did what in the workspace, newest first, filtered by action. */
import { AUDIT_ACTIONS } from '../../db/audit'
import type { ReadDeps } from '../../deps'
import type { PageRequest } from '../../lib/pagination'
import { listAuditPage } from '../../modules/audit/service'
import { html, type Html } from '../html'
import { pager, table, when } from '../layout'

export interface AuditQuery {
  action?: string
  page?: string
}

/** The details of an entry as short `key: value` pairs. */
function details(d: Record<string, unknown>): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ')
}

/** The action filter, one page of entries and the pager. */
export async function auditPage(deps: ReadDeps, base: string, workspaceId: string, query: AuditQuery, req: PageRequest): Promise<Html> {
  const action = query.action && (AUDIT_ACTIONS as readonly string[]).includes(query.action) ? query.action : undefined
  const page = await listAuditPage(deps, workspaceId, { action }, req)
  const path = `${base}/settings/audit-log`
  const rows = page.data.map(
    (e) => html`<tr data-action="${e.action}">
  <td>${when(e.created_at)}</td>
  <td>${e.actor.label}${e.actor.type === 'key' || e.actor.type === 'operator' ? '' : html` <span class="muted small">(${e.actor.type})</span>`}</td>
  <td><code>${e.action}</code></td>
  <td>${e.target.type ? html`${e.target.type}${e.target.id ? html` <code class="small">${e.target.id}</code>` : ''}` : ''}</td>
  <td>${e.ip ?? html`<span class="muted">–</span>`}</td>
  <td class="small">${details(e.details)}</td>
</tr>`,
  )
  return html`<form class="filters" method="get" action="${path}" role="search">
  <label>Action <select name="action">
    <option value="">any</option>
    ${AUDIT_ACTIONS.map((a) => html`<option${a === action ? html` selected` : ''}>${a}</option>`)}
  </select></label>
  <button type="submit">Filter</button>
  ${action ? html`<a href="${path}">Clear</a>` : ''}
</form>
${table(['When (UTC)', 'Who', 'Action', 'Target', 'IP', 'Details'], rows, 'Nothing recorded yet.')}
${pager(path, { action }, page)}
<p class="muted small">Also at <code>GET /api/v1/audit-log</code> (scope <code>keys:manage</code>).</p>`
}
