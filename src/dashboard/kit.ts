/**
 * What every dashboard route shares: the page headers, form-field readers, redirects, and the
 * signed-in wrapper (session, same-origin and CSRF checks, scope checks, errors shown as pages).
 */
import type { AppDeps } from '../deps'
import { keyActor, operatorActor, type Actor } from '../lib/actor'
import { requestPublicOrigin } from '../lib/client-ip'
import { ApiError, invalid } from '../errors'
import { missingScope } from '../errors/messages'
import { parsePageQuery } from '../lib/pagination'
import type { Scope } from '../lib/scopes'
import { findWorkspace } from '../modules/workspaces/service'
import { ROLE_SCOPES, roleIn, workspacesOf, type Role } from '../modules/operators/service'
import { findSession, rememberWorkspace, type ActiveSession } from '../modules/sessions/service'
import type { Workspace } from '../modules/workspaces/store'
import { clientIpOf } from '../plugins/request-context'
import { FORM_PARSER } from '../plugins/route-table'
import { contentSecurityPolicy } from '../plugins/web-page'
import { CSRF_FIELD, clearedCookie, csrfMatches, readCookie, sameOrigin, SESSION_COOKIE } from './guard'
import { html, type Html } from './html'
import { BASE, bareLayout, layout, type Notice, type Viewer, workspaceBase } from './layout'
import { signInPage } from './pages/sign-in'

/** Pages load nothing from anywhere but this server, no other site may frame them, and forms post only here. */
export const CSP = contentSecurityPolicy({ 'form-action': "'self'" })

export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // Pages show workspace data (and, once, new keys and secrets): never stored by a cache.
  'cache-control': 'no-store',
  'content-security-policy': CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
}

/** Keeps dashboard routes out of the OpenAPI document. */
export const HIDDEN = { detail: { hide: true } }

/** Dashboard form posts: hidden from the docs, and parsed as forms (plugins/body.ts). */
export const FORM_POST = { ...HIDDEN, parse: FORM_PARSER }

/** Fixed texts shown after an action succeeded (`?done=`), so no URL can put words on a page. */
export const DONE: Record<string, string> = {
  moved: 'Deal moved.',
  revoked: 'Key revoked: requests with it are refused from now on.',
  source_revoked: 'Source revoked: its URL is refused from now on.',
  test: 'Test event queued.',
  enabled: 'Endpoint enabled; pending deliveries resume.',
  disabled: 'Endpoint disabled.',
  retried: 'Delivery queued again.',
  recovered: 'Failed deliveries queued again.',
  saved: 'Endpoint saved.',
  campaign_created: 'Campaign created.',
  campaign_saved: 'Campaign saved.',
  spend_recorded: 'Spend recorded.',
  deal_created: 'Deal created.',
  deal_saved: 'Deal saved.',
  converted: 'Lead converted into this deal.',
  endpoint_deleted: 'Endpoint deleted with its delivery log.',
  erased: 'Contact erased: it, its leads and their data are gone; its deals stay, unlinked.',
  created: 'Workspace created; you are its owner.',
  joined: 'Welcome: you joined this workspace.',
  renamed: 'Workspace renamed.',
  role: 'Role changed.',
  removed: 'Member removed: their access ended, with the keys minted for them and the invites they made.',
  uninvited: 'Invite revoked: its link no longer works.',
}

/** The fixed texts of pages outside a workspace (the workspaces page). */
export const DONE_OUTSIDE: Record<string, string> = {
  deleted: 'Workspace deleted, with everything in it.',
}

export interface RouteContext {
  request: Request
  query: Record<string, string | undefined>
  params: Record<string, string>
  body: unknown
  server: ClientServer
}

/** The server of a request, as the client-IP look-up takes it. */
type ClientServer = Parameters<typeof clientIpOf>[1]

/** A request of a signed-in session, its CSRF token already checked when it changes anything. */
export interface InSession extends RouteContext {
  /** The app's deps acting for the signed-in viewer: what dashboard actions pass to services, so the audit log names them. */
  deps: AppDeps & { actor: Actor }
  active: ActiveSession
  path: string
}

/** A signed-in request to a page of a workspace the session may open. */
export interface SignedIn extends InSession {
  workspaceId: string
  workspace: Workspace
  /** The operator's role here; null for a session opened with a key. */
  role: Role | null
  /** What the session may do here: its key's scopes, or its operator's role's (ROLE_SCOPES). */
  scopes: readonly string[]
  viewer: Viewer & { keyId: string | null; workspaceId: string }
  notices: Notice[]
}

/** One field of a form body (the first, when repeated). */
export function field(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | null)?.[name]
  const first = Array.isArray(value) ? value[0] : value
  return typeof first === 'string' ? first : undefined
}

/** Every value of a repeated form field (checkboxes). */
export function fields(body: unknown, name: string): string[] {
  const value = (body as Record<string, unknown> | null)?.[name]
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v): v is string => typeof v === 'string')
}

export function respond(body: Html | string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(String(body), { status, headers: { ...PAGE_HEADERS, ...headers } })
}

export function redirect(location: string, headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 303, headers: { location, 'cache-control': 'no-store', ...headers } })
}

/** Characters a Location header may not carry: a `next` holding one is no path of ours. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const CONTROL = /[\u0000-\u001f\u007f]/

/** Only a path inside the dashboard may be a sign-in's destination (no open redirect), and no control character (a header cannot hold one). */
export function safeNext(next: string | undefined): string {
  return next && (next === BASE || next.startsWith(`${BASE}/`) || next.startsWith(`${BASE}?`)) && !next.startsWith('//') && !CONTROL.test(next) ? next : BASE
}

/** `datetime-local` gives no zone; the form says UTC. `path` names the field in the error when it is empty. */
export function utcTime(value: string | undefined, path = '/since'): string {
  if (!value) throw invalid(path, 'is required')
  return /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.length === 16 ? `${value}:00` : value}Z`
}

export function forbidden(text: string): Response {
  return respond(html`<!doctype html><title>Forbidden</title><p>${text}</p>`, 403)
}

/** The wrappers every dashboard route file builds its handlers with (routes/*.ts). */
export function dashboardKit(deps: AppDeps) {
  const { clock } = deps

  /** Wraps a handler that needs a session (any page, workspace or not): session, CSRF and origin checks. */
  const inSession =
    (handler: (c: InSession) => Response | Promise<Response>) =>
    async (c: RouteContext): Promise<Response> => {
      const url = new URL(c.request.url)
      const active = await findSession(deps, readCookie(c.request, SESSION_COOKIE))
      if (!active) {
        if (c.request.method === 'GET')
          return redirect(`${BASE}/sign-in?next=${encodeURIComponent(url.pathname + url.search)}`, { 'set-cookie': clearedCookie() })
        return respond(signInPage({ next: BASE, notice: { kind: 'error', text: 'Your session has ended; sign in again.' } }), 401, {
          'set-cookie': clearedCookie(),
        })
      }
      if (c.request.method !== 'GET') {
        if (!sameOrigin(c.request)) return forbidden('This request did not come from a page of this dashboard.')
        const token = field(c.body, CSRF_FIELD) ?? c.request.headers.get('x-csrf-token')
        if (!csrfMatches(token, active.session.csrfToken))
          return forbidden('The form is out of date (missing or wrong CSRF token); reload the page and try again.')
      }
      const ip = clientIpOf(c.request, c.server, deps.config.trustedProxies)
      const actor = active.operator ? operatorActor(active.operator, ip) : keyActor(active.key, ip)
      return handler({ ...c, deps: { ...deps, actor }, active, path: url.pathname })
    }

  /**
   * Wraps a handler of a workspace's page (`/dashboard/w/:workspace/…`): the session must be
   * allowed in that workspace (a key session in its key's, an operator in one they are a member
   * of), else the answer is the same 404 as for a workspace that does not exist. Errors are shown as pages.
   */
  const signedIn = (handler: (c: SignedIn) => Response | Promise<Response>) =>
    inSession(async (c) => {
      const { active } = c
      const access = await workspaceAccess(deps, active, c.params?.workspace ?? '')
      // A path segment that does not decode (`%ZZ`) arrives as a null param: it names no row, so there is no page.
      if (!access || Object.values(c.params ?? {}).some((value) => value === null || value === undefined)) return notFoundPage(c.path)
      const { workspace, role } = access
      if (active.operator) await rememberWorkspace(deps, active.session, workspace.id)
      const mine = active.operator ? await workspacesOf(deps, active.operator.id) : []
      const scopes = active.key ? active.key.scopes : ROLE_SCOPES[role!]
      const viewer = {
        workspace: workspace.name,
        base: workspaceBase(workspace.slug),
        who: active.operator ? active.operator.email : `${active.key.prefix}…`,
        csrf: active.session.csrfToken,
        role,
        workspaces: mine.map((m) => ({ slug: m.workspace.slug, name: m.workspace.name })),
        scopes,
        keyId: active.key?.id ?? null,
        workspaceId: workspace.id,
      }
      const done = c.query.done && Object.hasOwn(DONE, c.query.done) ? DONE[c.query.done] : undefined
      const ctx: SignedIn = { ...c, workspaceId: workspace.id, workspace, role, scopes, viewer, notices: done ? [{ kind: 'ok', text: done }] : [] }
      try {
        return await handler(ctx)
      } catch (error) {
        if (!(error instanceof ApiError)) throw error
        const title = error.status === 404 ? 'Not found' : 'That did not work'
        const content = html`<p><a href="${backLink(c.request, viewer.base)}">← Back</a></p>`
        return respond(layout({ title, path: c.path, viewer, notices: [{ kind: 'error', text: error.detail }], content }), error.status)
      }
    })

  /** A page or action that needs a scope: a key session acts with its key's scopes, an operator with their role's, like the same call to the API. */
  const needs = (scope: Scope, handler: (c: SignedIn) => Response | Promise<Response>) => (c: SignedIn) => {
    if (!c.scopes.includes(scope)) throw new ApiError('insufficient_scope', missingScope(scope))
    return handler(c)
  }

  /** An action only a workspace's owner may take (members, rename, delete). */
  const ownerOnly = (handler: (c: SignedIn) => Response | Promise<Response>) => (c: SignedIn) => {
    if (c.role !== 'owner') throw new ApiError('insufficient_scope', 'Only an owner of this workspace can do this.')
    return handler(c)
  }

  const page = (c: SignedIn, title: string, content: Html, status = 200, notices: Notice[] = c.notices) =>
    respond(layout({ title, path: c.path, viewer: c.viewer, notices, content }), status)

  const pageRequest = (query: Record<string, string | undefined>) => parsePageQuery({ page: query.page })

  /** This server's address as the browser reached it, behind a trusted proxy too: what links and snippets to copy start with. */
  const publicOrigin = (c: RouteContext) => requestPublicOrigin(c.request, c.server, deps.config.trustedProxies)

  return { deps, clock, inSession, signedIn, needs, ownerOnly, page, pageRequest, publicOrigin }
}

/** What route files get: the app's deps and the signed-in wrappers. */
export type DashboardKit = ReturnType<typeof dashboardKit>

/** Where "Back" goes after an error: the page the form was on when it is ours, else the overview. */
export function backLink(request: Request, fallback: string = BASE): string {
  const referrer = request.headers.get('referer')
  if (!referrer) return fallback
  try {
    const url = new URL(referrer)
    return url.host === new URL(request.url).host && url.pathname.startsWith(BASE) ? url.pathname + url.search : fallback
  } catch {
    return fallback
  }
}

/** The workspace a session may open by this slug, with the operator's role there; null when it may not (or none has this slug). */
export async function workspaceAccess(deps: AppDeps, active: ActiveSession, slug: string): Promise<{ workspace: Workspace; role: Role | null } | null> {
  const workspace = await findWorkspace(deps, slug)
  if (!workspace || workspace.slug !== slug) return null
  if (active.key) return workspace.id === active.key.workspaceId ? { workspace, role: null } : null
  const role = await roleIn(deps, workspace.id, active.operator.id)
  return role ? { workspace, role } : null
}

/**
 * The workspace a session is in when a URL names none (old bookmarks, the sign-in's landing):
 * a key's own; an operator's last used while still a member, else their first. Null when an
 * operator is a member of none.
 */
export async function currentWorkspace(deps: AppDeps, active: ActiveSession): Promise<Workspace | null> {
  if (active.key) return (await findWorkspace(deps, active.key.workspaceId)) ?? null
  const mine = await workspacesOf(deps, active.operator.id)
  return (mine.find((m) => m.workspace.id === active.session.workspaceId) ?? mine[0])?.workspace ?? null
}

/** The answer for a workspace the session may not open: the same as for one that does not exist. */
export function notFoundPage(path: string): Response {
  return respond(
    bareLayout(
      'Not found',
      html`<section class="card"><h1>Not found</h1><p>There is no page at <code>${path}</code> for you.</p><p><a href="${BASE}/workspaces">Your workspaces</a></p></section>`,
    ),
    404,
  )
}
