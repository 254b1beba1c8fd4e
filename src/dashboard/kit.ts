/**
 * What every dashboard route shares: the page headers, form-field readers, redirects, and the
 * signed-in wrapper (session, same-origin and CSRF checks, scope checks, errors shown as pages).
 */
import type { AppDeps } from '../deps'
import { keyActor, type Actor } from '../lib/actor'
import { ApiError, invalid } from '../errors'
import { parsePageQuery } from '../lib/pagination'
import type { Scope } from '../lib/scopes'
import { findWorkspace } from '../modules/workspaces/service'
import { findSession, type ActiveSession } from '../modules/sessions/service'
import { requireScope } from '../plugins/auth'
import { clientIpOf } from '../plugins/request-context'
import { FORM_PARSER } from '../plugins/route-table'
import { contentSecurityPolicy } from '../plugins/web-page'
import { CSRF_FIELD, clearedCookie, csrfMatches, readCookie, sameOrigin, SESSION_COOKIE } from './guard'
import { html, type Html } from './html'
import { BASE, layout, type Notice, type Viewer } from './layout'
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

/** A signed-in request, its CSRF token already checked when it changes anything. */
export interface SignedIn extends RouteContext {
  /** The app's deps acting for the signed-in viewer: what dashboard actions pass to services, so the audit log names them. */
  deps: AppDeps & { actor: Actor }
  active: ActiveSession
  workspaceId: string
  viewer: Viewer & { keyId: string; workspaceId: string }
  path: string
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

/** Only a path inside the dashboard may be a sign-in's destination (no open redirect). */
export function safeNext(next: string | undefined): string {
  return next && (next === BASE || next.startsWith(`${BASE}/`) || next.startsWith(`${BASE}?`)) && !next.startsWith('//') ? next : BASE
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

  /** Wraps a handler of a signed-in page: session, CSRF and origin checks, and errors shown as pages. */
  const signedIn =
    (handler: (c: SignedIn) => Response | Promise<Response>) =>
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
      const workspaceId = active.session.workspaceId
      const viewer = {
        workspace: (await findWorkspace(deps, workspaceId))?.name ?? workspaceId,
        base: BASE,
        keyPrefix: `${active.key.prefix}…`,
        csrf: active.session.csrfToken,
        keyId: active.key.id,
        workspaceId,
      }
      const done = c.query.done && Object.hasOwn(DONE, c.query.done) ? DONE[c.query.done] : undefined
      const actor = keyActor(active.key, clientIpOf(c.request, c.server, deps.config.trustedProxies))
      const ctx: SignedIn = {
        ...c,
        deps: { ...deps, actor },
        active,
        workspaceId,
        viewer,
        path: url.pathname,
        notices: done ? [{ kind: 'ok', text: done }] : [],
      }
      try {
        return await handler(ctx)
      } catch (error) {
        if (!(error instanceof ApiError)) throw error
        const title = error.status === 404 ? 'Not found' : 'That did not work'
        const content = html`<p><a href="${backLink(c.request)}">← Back</a></p>`
        return respond(layout({ title, path: url.pathname, viewer, notices: [{ kind: 'error', text: error.detail }], content }), error.status)
      }
    }

  /** A page or action that needs a scope: the session acts with its key's scopes, like the same call to the API. */
  const needs = (scope: Scope, handler: (c: SignedIn) => Response | Promise<Response>) => (c: SignedIn) => {
    requireScope({ key: c.active.key, workspaceId: c.workspaceId }, scope)
    return handler(c)
  }

  const page = (c: SignedIn, title: string, content: Html, status = 200, notices: Notice[] = c.notices) =>
    respond(layout({ title, path: c.path, viewer: c.viewer, notices, content }), status)

  const pageRequest = (query: Record<string, string | undefined>) => parsePageQuery({ page: query.page })

  return { deps, clock, signedIn, needs, page, pageRequest }
}

/** What route files get: the app's deps and the signed-in wrappers. */
export type DashboardKit = ReturnType<typeof dashboardKit>

/** Where "Back" goes after an error: the page the form was on when it is ours, else the overview. */
export function backLink(request: Request): string {
  const referrer = request.headers.get('referer')
  if (!referrer) return BASE
  try {
    const url = new URL(referrer)
    return url.host === new URL(request.url).host && url.pathname.startsWith(BASE) ? url.pathname + url.search : BASE
  } catch {
    return BASE
  }
}
