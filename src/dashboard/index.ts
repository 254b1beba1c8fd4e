/**
 * The dashboard at /dashboard: server-rendered HTML pages over the same services the API uses
 * (no business rule lives here), plain HTML forms with a CSRF token, one stylesheet and one
 * small script embedded in the executable. Hidden from the OpenAPI document.
 */
import { Elysia } from 'elysia'
import type { AppDeps } from '../deps'
import { checkModel } from '../lib/check-model'
import { ApiError, invalid } from '../errors'
import { SIGN_IN_FAILURES } from '../errors/messages'
import { parsePageQuery } from '../lib/pagination'
import type { Scope } from '../lib/scopes'
import { ApiKeyModel } from '../modules/api-keys/model'
import { createKeyFor, revokeKey } from '../modules/api-keys/service'
import { DealModel } from '../modules/deals/model'
import { updateDeal } from '../modules/deals/service'
import { findWorkspace } from '../modules/workspaces/service'
import { findSession, endSession, signIn, type ActiveSession } from '../modules/sessions/service'
import { WebhookModel } from '../modules/webhooks/model'
import { createEndpoint, recoverDeliveries, retryDelivery, rotateSecret, sendTestEvent, updateEndpoint } from '../modules/webhooks/service'
import { requireScope } from '../plugins/auth'
import { formParser } from '../plugins/body'
import { FORM_PARSER } from '../plugins/route-table'
import { clientIpOf, routedPath } from '../plugins/request-context'
import { assetResponse, contentSecurityPolicy } from '../plugins/web-page'
import css from './assets/dashboard.css' with { type: 'text' }
import script from './assets/dashboard.js' with { type: 'text' }
import { CSRF_FIELD, clearedCookie, createSignInLimiter, csrfMatches, readCookie, sameOrigin, sessionCookie, SESSION_COOKIE } from './guard'
import { html, type Html } from './html'
import { ASSETS, BASE, KEYS_PATH, WEBHOOKS_PATH, layout, type Notice, type Viewer } from './layout'
import { createdKeyPage, keysPage, type KeyForm } from './pages/api-keys'
import { contactPage, contactsPage } from './pages/contacts'
import { dealsPage } from './pages/deals'
import { embedPage } from './pages/embed'
import { leadsPage } from './pages/leads'
import { overviewPage } from './pages/overview'
import { signInPage } from './pages/sign-in'
import { endpointPage, secretOnce, webhooksPage, type EndpointForm } from './pages/webhooks'

/** Pages load nothing from anywhere but this server, no other site may frame them, and forms post only here. */
const CSP = contentSecurityPolicy({ 'form-action': "'self'" })

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // Pages show workspace data (and, once, new keys and secrets): never stored by a cache.
  'cache-control': 'no-store',
  'content-security-policy': CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
}

/** Keeps dashboard routes out of the OpenAPI document. */
const HIDDEN = { detail: { hide: true } }

/** Dashboard form posts: hidden from the docs, and parsed as forms (plugins/body.ts). */
const FORM_POST = { ...HIDDEN, parse: FORM_PARSER }

/** Fixed texts shown after an action succeeded (`?done=`), so no URL can put words on a page. */
const DONE: Record<string, string> = {
  moved: 'Deal moved.',
  revoked: 'Key revoked: requests with it are refused from now on.',
  test: 'Test event queued.',
  enabled: 'Endpoint enabled; pending deliveries resume.',
  disabled: 'Endpoint disabled.',
  retried: 'Delivery queued again.',
  recovered: 'Failed deliveries queued again.',
  saved: 'Endpoint saved.',
}

interface RouteContext {
  request: Request
  query: Record<string, string | undefined>
  params: Record<string, string>
  body: unknown
}

/** A signed-in request, its CSRF token already checked when it changes anything. */
interface SignedIn extends RouteContext {
  active: ActiveSession
  workspaceId: string
  viewer: Viewer & { keyId: string; workspaceId: string }
  path: string
  notices: Notice[]
}

/** One field of a form body (the first, when repeated). */
function field(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | null)?.[name]
  const first = Array.isArray(value) ? value[0] : value
  return typeof first === 'string' ? first : undefined
}

/** Every value of a repeated form field (checkboxes). */
function fields(body: unknown, name: string): string[] {
  const value = (body as Record<string, unknown> | null)?.[name]
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v): v is string => typeof v === 'string')
}

function respond(body: Html | string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(String(body), { status, headers: { ...PAGE_HEADERS, ...headers } })
}

function redirect(location: string, headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 303, headers: { location, 'cache-control': 'no-store', ...headers } })
}

/** Only a path inside the dashboard may be a sign-in's destination (no open redirect). */
function safeNext(next: string | undefined): string {
  return next && (next === BASE || next.startsWith(`${BASE}/`) || next.startsWith(`${BASE}?`)) && !next.startsWith('//') ? next : BASE
}

/** `datetime-local` gives no zone; the form says UTC. */
function utcTime(value: string | undefined): string {
  if (!value) throw invalid('/since', 'is required')
  return /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.length === 16 ? `${value}:00` : value}Z`
}

/** The create and edit forms of an endpoint, as the API's models take them. */
function endpointForm(body: unknown): EndpointForm {
  const maxInFlight = (field(body, 'max_in_flight') ?? '').trim()
  return {
    url: (field(body, 'url') ?? '').trim(),
    description: field(body, 'description') ?? '',
    events: fields(body, 'events'),
    // Left empty: the default. Not a whole number: kept as typed, so the model's check names the field.
    ...(maxInFlight ? { max_in_flight: /^\d{1,9}$/.test(maxInFlight) ? Number(maxInFlight) : maxInFlight } : {}),
  }
}

function forbidden(text: string): Response {
  return respond(html`<!doctype html><title>Forbidden</title><p>${text}</p>`, 403)
}

/** The dashboard routes, each behind the session, CSRF and scope checks it needs. */
export const dashboard = (deps: AppDeps) => {
  const { clock } = deps
  const limiter = createSignInLimiter(clock, deps.rateLimitStore)

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
      const ctx: SignedIn = { ...c, active, workspaceId, viewer, path: url.pathname, notices: done ? [{ kind: 'ok', text: done }] : [] }
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

  /** Every webhook page and action needs `webhooks:manage`. */
  const webhooksAction = (handler: (c: SignedIn) => Response | Promise<Response>) => signedIn(needs('webhooks:manage', handler))

  const page = (c: SignedIn, title: string, content: Html, status = 200, notices: Notice[] = c.notices) =>
    respond(layout({ title, path: c.path, viewer: c.viewer, notices, content }), status)

  const pageRequest = (query: Record<string, string | undefined>) => parsePageQuery({ page: query.page })

  const keysView = async (c: SignedIn, form?: KeyForm, error?: ApiError) =>
    page(c, 'API keys', await keysPage(deps, c.viewer, clock.now(), form), error?.status ?? 200, error ? [{ kind: 'error', text: error.detail }] : c.notices)

  const webhooksView = async (c: SignedIn, form?: EndpointForm, error?: ApiError) =>
    page(
      c,
      'Webhooks',
      await webhooksPage(deps, c.workspaceId, c.viewer, form),
      error?.status ?? 200,
      error ? [{ kind: 'error', text: error.detail }] : c.notices,
    )

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
      .get(
        `${BASE}/sign-in`,
        async ({ request, query }) => {
          if (await findSession(deps, readCookie(request, SESSION_COOKIE))) return redirect(safeNext(query.next))
          return respond(signInPage({ next: safeNext(query.next) }))
        },
        HIDDEN,
      )
      .post(
        `${BASE}/sign-in`,
        async ({ request, body, server }) => {
          if (!sameOrigin(request)) return forbidden('Sign-in forms are accepted only from this server’s own page.')
          const next = safeNext(field(body, 'next'))
          const ip = clientIpOf(request, server, deps.config.trustedProxies)
          const result = await signIn(deps, field(body, 'key') ?? '')
          if ('failure' in result) {
            const wait = await limiter.failed(ip)
            if (wait > 0) {
              const notice: Notice = { kind: 'error', text: `Too many failed sign-ins from your address; try again in ${wait} seconds.` }
              return respond(signInPage({ next, notice }), 429, { 'retry-after': String(wait) })
            }
            return respond(signInPage({ next, notice: { kind: 'error', text: SIGN_IN_FAILURES[result.failure] } }), 401)
          }
          return redirect(next, { 'set-cookie': sessionCookie(request, result.token) })
        },
        FORM_POST,
      )
      .post(
        `${BASE}/sign-out`,
        signedIn(async ({ request }) => {
          await endSession(deps, readCookie(request, SESSION_COOKIE))
          return redirect(`${BASE}/sign-in`, { 'set-cookie': clearedCookie() })
        }),
        FORM_POST,
      )
      .get(BASE, signedIn(needs('leads:read', async (c) => page(c, 'Overview', await overviewPage(deps, c.viewer.base, c.workspaceId, clock.now())))), HIDDEN)
      .get(
        `${BASE}/contacts`,
        signedIn(
          needs('contacts:read', async (c) => page(c, 'Contacts', await contactsPage(deps, c.viewer.base, c.workspaceId, c.query, pageRequest(c.query)))),
        ),
        HIDDEN,
      )
      .get(
        `${BASE}/contacts/:id`,
        signedIn(
          needs('contacts:read', async (c) => {
            const { title, content } = await contactPage(deps, c.viewer.base, c.workspaceId, c.params.id!, pageRequest(c.query))
            return page(c, title, content)
          }),
        ),
        HIDDEN,
      )
      .get(
        `${BASE}/leads`,
        signedIn(needs('leads:read', async (c) => page(c, 'Leads', await leadsPage(deps, c.viewer.base, c.workspaceId, c.query, pageRequest(c.query))))),
        HIDDEN,
      )
      .get(`${BASE}/deals`, signedIn(needs('deals:read', async (c) => page(c, 'Deals', await dealsPage(deps, c.workspaceId, c.viewer)))), HIDDEN)
      .post(
        `${BASE}/deals/:id/stage`,
        signedIn(
          needs('deals:write', async (c) => {
            // The API's own PATCH path: the service decides whether this closes the deal and emits deal.closed.
            const { stage } = checkModel(DealModel.patchBody, { stage: field(c.body, 'stage') ?? '' })
            await updateDeal(deps, c.workspaceId, c.params.id!, { stage })
            return redirect(`${c.viewer.base}/deals?done=moved`)
          }),
        ),
        FORM_POST,
      )
      .get(
        KEYS_PATH,
        signedIn((c) => keysView(c)),
        HIDDEN,
      )
      .post(
        KEYS_PATH,
        signedIn(async (c) => {
          const form: KeyForm = {
            kind: field(c.body, 'kind') ?? 'secret',
            name: field(c.body, 'name') ?? '',
            scopes: fields(c.body, 'scopes'),
            origins: field(c.body, 'allowed_origins') ?? '',
          }
          try {
            // The API's own model first, so the form accepts exactly what POST /api-keys does.
            const publishable = form.kind === 'publishable'
            const body = checkModel(ApiKeyModel.createBody, {
              kind: form.kind,
              name: form.name,
              ...(publishable || form.scopes.length === 0 ? {} : { scopes: form.scopes }),
              ...(publishable ? { allowed_origins: form.origins.split(/[\s,]+/).filter(Boolean) } : {}),
            })
            const { record, key } = await createKeyFor(
              deps,
              { key: c.active.key, defaultRateLimit: deps.config.rateLimit.capacity },
              {
                kind: body.kind,
                name: body.name,
                scopes: body.scopes,
                allowedOrigins: body.allowed_origins,
              },
            )
            return page(c, 'API keys', createdKeyPage(c.viewer.base, record, key, new URL(c.request.url).origin), 201, [])
          } catch (error) {
            if (error instanceof ApiError) return keysView(c, form, error)
            throw error
          }
        }),
        FORM_POST,
      )
      .post(
        `${KEYS_PATH}/:id/revoke`,
        signedIn(async (c) => {
          await revokeKey(deps, c.workspaceId, c.params.id!)
          return redirect(`${c.viewer.base}/settings/api-keys?done=revoked`)
        }),
        FORM_POST,
      )
      .get(
        WEBHOOKS_PATH,
        webhooksAction((c) => webhooksView(c)),
        HIDDEN,
      )
      .post(
        WEBHOOKS_PATH,
        webhooksAction(async (c) => {
          const form = endpointForm(c.body)
          try {
            const { endpoint, secret } = await createEndpoint(deps, c.workspaceId, checkModel(WebhookModel.createBody, form))
            return page(c, 'Webhooks', secretOnce(c.viewer.base, endpoint.id, secret, `Signing secret of ${endpoint.url}`), 201, [])
          } catch (error) {
            if (error instanceof ApiError) return webhooksView(c, form, error)
            throw error
          }
        }),
        FORM_POST,
      )
      .get(
        `${WEBHOOKS_PATH}/:id`,
        webhooksAction(async (c) => {
          const { title, content } = await endpointPage(deps, c.workspaceId, c.params.id!, c.viewer, pageRequest(c.query), clock.now())
          return page(c, title, content)
        }),
        HIDDEN,
      )
      .post(
        `${WEBHOOKS_PATH}/:id/edit`,
        webhooksAction(async (c) => {
          const form = endpointForm(c.body)
          try {
            await updateEndpoint(deps, c.workspaceId, c.params.id!, checkModel(WebhookModel.patchBody, form))
            return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=saved`)
          } catch (error) {
            if (!(error instanceof ApiError) || error.code === 'not_found') throw error
            const { title, content } = await endpointPage(deps, c.workspaceId, c.params.id!, c.viewer, pageRequest(c.query), clock.now(), form)
            return page(c, title, content, error.status, [{ kind: 'error', text: error.detail }])
          }
        }),
        FORM_POST,
      )
      .post(
        `${WEBHOOKS_PATH}/:id/test`,
        webhooksAction(async (c) => {
          await sendTestEvent(deps, c.workspaceId, c.params.id!)
          return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=test`)
        }),
        FORM_POST,
      )
      .post(
        `${WEBHOOKS_PATH}/:id/rotate`,
        webhooksAction(async (c) => {
          const { endpoint, secret } = await rotateSecret(deps, c.workspaceId, c.params.id!)
          return page(c, 'Webhooks', secretOnce(c.viewer.base, endpoint.id, secret, `New signing secret of ${endpoint.url}`), 200, [])
        }),
        FORM_POST,
      )
      .post(
        `${WEBHOOKS_PATH}/:id/enable`,
        webhooksAction(async (c) => {
          await updateEndpoint(deps, c.workspaceId, c.params.id!, { enabled: true })
          return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=enabled`)
        }),
        FORM_POST,
      )
      .post(
        `${WEBHOOKS_PATH}/:id/disable`,
        webhooksAction(async (c) => {
          await updateEndpoint(deps, c.workspaceId, c.params.id!, { enabled: false })
          return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=disabled`)
        }),
        FORM_POST,
      )
      .post(
        `${WEBHOOKS_PATH}/:id/recover`,
        webhooksAction(async (c) => {
          await recoverDeliveries(deps, c.workspaceId, c.params.id!, utcTime(field(c.body, 'since')))
          return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=recovered`)
        }),
        FORM_POST,
      )
      .post(
        `${WEBHOOKS_PATH}/:id/deliveries/:did/retry`,
        webhooksAction(async (c) => {
          await retryDelivery(deps, c.workspaceId, c.params.id!, c.params.did!)
          return redirect(`${c.viewer.base}/settings/webhooks/${c.params.id}?done=retried`)
        }),
        FORM_POST,
      )
      .get(
        `${BASE}/embed`,
        signedIn(async (c) => page(c, 'Embed', await embedPage(deps, c.viewer.base, c.workspaceId, new URL(c.request.url).origin, clock.now()))),
        HIDDEN,
      )
      .get(
        `${BASE}/*`,
        signedIn((c) => page(c, 'Not found', html`<p>No page here. <a href="${BASE}">Overview</a></p>`, 404)),
        HIDDEN,
      )
  )
}

/** Where "Back" goes after an error: the page the form was on when it is ours, else the overview. */
function backLink(request: Request): string {
  const referrer = request.headers.get('referer')
  if (!referrer) return BASE
  try {
    const url = new URL(referrer)
    return url.host === new URL(request.url).host && url.pathname.startsWith(BASE) ? url.pathname + url.search : BASE
  } catch {
    return BASE
  }
}
