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
import { dashboardKit, forbidden, HIDDEN, redirect } from './kit'
import { ASSETS, BASE } from './layout'
import { keyRoutes } from './routes/api-keys'
import { auditRoutes } from './routes/audit'
import { campaignRoutes } from './routes/campaigns'
import { recordRoutes } from './routes/records'
import { sessionRoutes } from './routes/session'
import { webhookRoutes } from './routes/webhooks'

/** The dashboard routes, each behind the session, CSRF and scope checks it needs. */
export const dashboard = (deps: AppDeps) => {
  const kit = dashboardKit(deps)
  const { signedIn, page } = kit
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
      .use(recordRoutes(kit))
      .use(keyRoutes(kit))
      .use(webhookRoutes(kit))
      .use(campaignRoutes(kit))
      .use(auditRoutes(kit))
      .get(
        `${BASE}/*`,
        signedIn((c) => page(c, 'Not found', html`<p>No page here. <a href="${BASE}">Overview</a></p>`, 404)),
        HIDDEN,
      )
  )
}
