/**
 * The dashboard at /dashboard: server-rendered HTML pages over the same services the API uses
 * (no business rule lives here), plain HTML forms with a CSRF token, one stylesheet and one
 * small script embedded in the executable. Hidden from the OpenAPI document. The pages of each
 * area are in routes/; what they share (the signed-in wrapper, form readers) is in kit.ts.
 */
import { Elysia } from 'elysia'
import type { AppDeps } from '../deps'
import { formParser } from '../plugins/body'
import { routedPath } from '../plugins/request-context'
import { assetResponse } from '../plugins/web-page'
import css from './assets/dashboard.css' with { type: 'text' }
import script from './assets/dashboard.js' with { type: 'text' }
import { sameOrigin } from './guard'
import { html } from './html'
import { currentWorkspace, dashboardKit, forbidden, FORM_POST, HIDDEN, type InSession, notFoundPage, redirect } from './kit'
import { ASSETS, BASE, WORKSPACE, workspaceBase } from './layout'
import { keyRoutes } from './routes/api-keys'
import { auditRoutes } from './routes/audit'
import { dataIoRoutes } from './routes/data-io'
import { campaignRoutes } from './routes/campaigns'
import { recordRoutes } from './routes/records'
import { sessionRoutes } from './routes/session'
import { sourceRoutes } from './routes/sources'
import { teamRoutes } from './routes/team'
import { webhookRoutes } from './routes/webhooks'

/** Answers an old `/dashboard/<page>` path with a redirect to `/dashboard/w/<current workspace>/<page>`. */
function toCurrentWorkspace(deps: AppDeps, status: 303 | 307) {
  return async (c: InSession): Promise<Response> => {
    const rest = c.path.slice(BASE.length)
    if (rest === '/w' || rest.startsWith('/w/')) return notFoundPage(c.path)
    const mine = await currentWorkspace(deps, c.active)
    if (!mine) return redirect(`${BASE}/workspaces`)
    const url = new URL(c.request.url)
    return new Response(null, { status, headers: { location: `${workspaceBase(mine.slug)}${rest}${url.search}`, 'cache-control': 'no-store' } })
  }
}

/** The dashboard routes, each behind the session, CSRF and scope checks it needs. */
export const dashboard = (deps: AppDeps) => {
  const kit = dashboardKit(deps)
  const { inSession, signedIn, page } = kit
  return (
    new Elysia({ name: 'dashboard' })
      .use(formParser)
      // Before any body is read: a form post from another site costs no parsing at all.
      .onRequest((context) => {
        const { request } = context
        if (request.method === 'GET' || request.method === 'HEAD' || !routedPath(context).startsWith(BASE)) return
        if (!sameOrigin(request)) return forbidden('This request did not come from a page of this dashboard.')
      })
      .get('/', () => redirect(BASE), HIDDEN)
      .get(`${ASSETS}/dashboard.css`, () => assetResponse(css, 'text/css; charset=utf-8'), HIDDEN)
      .get(`${ASSETS}/dashboard.js`, () => assetResponse(script, 'text/javascript; charset=utf-8'), HIDDEN)
      .use(sessionRoutes(kit))
      .use(dataIoRoutes(kit))
      .use(recordRoutes(kit))
      .use(keyRoutes(kit))
      .use(sourceRoutes(kit))
      .use(webhookRoutes(kit))
      .use(campaignRoutes(kit))
      .use(teamRoutes(kit))
      .use(auditRoutes(kit))
      .get(
        `${WORKSPACE}/*`,
        signedIn((c) => page(c, 'Not found', html`<p>No page here. <a href="${c.viewer.base}">Overview</a></p>`, 404)),
        HIDDEN,
      )
      // Pages from before workspaces were in the URL (bookmarks): the same page of the session's current workspace.
      .get(`${BASE}/*`, inSession(toCurrentWorkspace(deps, 303)), HIDDEN)
      // A form posted to such a path is sent on with its body (307 keeps the method).
      .post(`${BASE}/*`, inSession(toCurrentWorkspace(deps, 307)), FORM_POST)
  )
}
