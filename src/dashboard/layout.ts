/** The page shell (head, navigation, notices) and the small view helpers every page shares. */
import type { Page } from '../lib/pagination'
import type { Scope } from '../lib/scopes'
import { assetUrl } from '../plugins/web-page'
import { CSRF_FIELD } from './guard'
import { html, type Html, type Interpolation } from './html'

export const BASE = '/dashboard'
export const ASSETS = `${BASE}/assets`
/** The route pattern of a workspace's pages: every workspace page is registered under it (`${WORKSPACE}/contacts`). */
export const WORKSPACE = `${BASE}/w/:workspace`
export const KEYS_PATH = `${WORKSPACE}/settings/api-keys`
export const WEBHOOKS_PATH = `${WORKSPACE}/settings/webhooks`
export const SOURCES_PATH = `${WORKSPACE}/settings/sources`

/** Where a workspace's pages live. */
export function workspaceBase(slug: string): string {
  return `${BASE}/w/${slug}`
}
const asset = (name: string) => assetUrl(ASSETS, name)

/** What every signed-in page knows about its viewer. */
export interface Viewer {
  workspace: string
  /** Where this workspace's pages live: every link and form action of a page starts here. */
  base: string
  /** Who is signed in: an operator's email, or the prefix of the key the session was opened with. */
  who: string
  csrf: string
  /** An operator's role in this workspace (null for a session opened with a key). */
  role: 'owner' | 'admin' | 'viewer' | null
  /** The workspaces the header's switcher offers (an operator's; none for a key session). */
  workspaces: { slug: string; name: string }[]
  /** What the viewer may do here (the key's scopes, or the operator's role's): pages hide what they could not use. */
  scopes: readonly string[]
}

export interface Notice {
  kind: 'ok' | 'error'
  text: string
}

/** The main navigation, as paths under a workspace's base; a link shows only to viewers holding its page's scope. */
const NAV: { path: string; label: string; scope?: Scope }[] = [
  { path: '', label: 'Overview', scope: 'leads:read' },
  { path: '/contacts', label: 'Contacts', scope: 'contacts:read' },
  { path: '/leads', label: 'Leads', scope: 'leads:read' },
  { path: '/deals', label: 'Deals', scope: 'deals:read' },
  { path: '/campaigns', label: 'Campaigns', scope: 'campaigns:read' },
  { path: '/settings/api-keys', label: 'API keys', scope: 'keys:manage' },
  { path: '/settings/sources', label: 'Sources' },
  { path: '/settings/webhooks', label: 'Webhooks', scope: 'webhooks:manage' },
  { path: '/settings/audit-log', label: 'Audit log', scope: 'keys:manage' },
  { path: '/embed', label: 'Embed' },
  { path: '/settings/members', label: 'Members' },
]

function head(title: string): Html {
  return html`<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · askad</title>
<link rel="stylesheet" href="${asset('dashboard.css')}">
<script src="${asset('dashboard.js')}" defer></script>`
}

/** A full signed-in page: navigation, notices, then the content. */
export function layout(opts: { title: string; path: string; viewer: Viewer; notices?: Notice[]; content: Interpolation }): Html {
  const base = opts.viewer.base
  const current = (path: string) => (path === '' ? opts.path === base : opts.path.startsWith(base + path))
  return html`<!doctype html>
<html lang="en">
<head>${head(opts.title)}</head>
<body>
<header class="top">
  <a class="brand" href="${base}">askad</a>
  <nav aria-label="Main">${NAV.filter((n) => !n.scope || opts.viewer.scopes.includes(n.scope)).map((n) => html`<a href="${base}${n.path}"${current(n.path) ? html` aria-current="page"` : ''}>${n.label}</a>`)}</nav>
  ${switcher(opts.viewer)}
  <form class="who" method="post" action="${BASE}/sign-out">
    ${csrfField(opts.viewer)}
    <span title="Signed in as ${opts.viewer.who}">${opts.viewer.workspaces.length > 0 ? opts.viewer.who : opts.viewer.workspace}</span>
    <button type="submit" class="link">Sign out</button>
  </form>
</header>
<main>
  <h1>${opts.title}</h1>
  ${notices(opts.notices)}
  ${opts.content}
</main>
</body>
</html>`
}

/** The workspace switcher of an operator: a GET form that works without JavaScript, and a link to create one. */
function switcher(viewer: Viewer): Html {
  if (viewer.workspaces.length === 0) return html``
  const current = viewer.base.slice(`${BASE}/w/`.length)
  return html`<form class="switcher" method="get" action="${BASE}/switch">
    <label for="switch-workspace" class="visually-hidden">Workspace</label>
    <select id="switch-workspace" name="to">${viewer.workspaces.map((w) => html`<option value="${w.slug}"${w.slug === current ? html` selected` : ''}>${w.name}</option>`)}</select>
    <button type="submit">Open</button>
    <a href="${BASE}/workspaces">All workspaces</a>
  </form>`
}

/** A page for visitors who are not signed in (the sign-in form). */
export function bareLayout(title: string, content: Interpolation): Html {
  return html`<!doctype html>
<html lang="en">
<head>${head(title)}</head>
<body class="bare"><main>${content}</main></body>
</html>`
}

/** The notices above a page's content; errors are announced as alerts. */
export function notices(list: Notice[] | undefined): Html {
  return html`${(list ?? []).map((n) => html`<p class="notice ${n.kind}" role="${n.kind === 'error' ? 'alert' : 'status'}">${n.text}</p>`)}`
}

/** The hidden field every state-changing form carries. */
export function csrfField(viewer: Viewer): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${viewer.csrf}">`
}

/** A one-button POST form (revoke, retry, …), optionally asking for confirmation first. */
export function actionButton(viewer: Viewer, action: string, label: string, opts: { confirm?: string; className?: string } = {}): Html {
  return html`<form method="post" action="${action}" class="inline"${opts.confirm ? html` data-confirm="${opts.confirm}"` : ''}>${csrfField(viewer)}<button type="submit" class="${opts.className ?? ''}">${label}</button></form>`
}

/** '2026-11-01 12:00' (UTC) from an RFC 3339 string; a dash for null. */
export function when(value: string | null | undefined): Html {
  if (!value) return html`<span class="muted">–</span>`
  return html`<time datetime="${value}">${value.slice(0, 16).replace('T', ' ')}</time>`
}

/** First and last name joined, or an empty string. */
export function personName(p: { first_name: string | null; last_name: string | null }): string {
  return [p.first_name, p.last_name].filter(Boolean).join(' ')
}

/** A table wrapped so it scrolls sideways on narrow screens. */
export function table(headers: string[], rows: Interpolation[], empty: string): Html {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`
  return html`<div class="table-wrap"><table><thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead><tbody>${rows}</tbody></table></div>`
}

/** Previous/next links for a page of results, keeping the other query parameters. */
export function pager(path: string, query: Record<string, string | undefined>, page: Page<unknown>): Html {
  const { page: current, limit, total, has_more } = page.pagination
  const n = current ?? 1
  const pages = Math.max(1, Math.ceil(total / limit))
  const link = (to: number) => {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v && k !== 'page') params.set(k, v)
    params.set('page', String(to))
    return `${path}?${params}`
  }
  return html`<nav class="pager" aria-label="Pages">
  ${n > 1 ? html`<a href="${link(n - 1)}" rel="prev">← Newer</a>` : html`<span></span>`}
  <span>Page ${n} of ${pages} · ${total} in all</span>
  ${has_more ? html`<a href="${link(n + 1)}" rel="next">Older →</a>` : html`<span></span>`}
</nav>`
}

/** "Export CSV" for a list page: the download with the filters on screen (blank ones left out). */
export function exportLink(path: string, filters: Record<string, string | undefined>): Html {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v)
  const query = params.size ? `?${params}` : ''
  return html`<a class="button" href="${path}${query}" download>Export CSV</a>`
}
