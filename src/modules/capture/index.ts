/** Browser capture: `POST /leads/capture` for web forms and pages, with its CORS preflight. */
import { Elysia, t } from 'elysia'
import type { AppDeps } from '../../deps'
import { ApiError } from '../../errors'
import { API_PREFIX } from '../../lib/api-prefix'
import { NO_CAPTURE_KEY } from '../../errors/messages'
import { newId } from '../../lib/ids'
import { BODY_ERRORS, LOCATION_EXTENSION, problems } from '../../errors/openapi'
import { authenticateFromPage, authOf, type Auth, refuseSecretKeysFromPage, requireScope, SCOPE_EXTENSION, type AuthPlugin } from '../../plugins/auth'
import { formParser, mediaType } from '../../plugins/body'
import type { ErrorPage } from '../../plugins/errors'
import { answerWrite, type Answer } from '../../plugins/idempotency'
import { clientIpOf, requestContext } from '../../plugins/request-context'
import { FORM_PARSER } from '../../plugins/route-table'
import { authenticateKey } from '../api-keys/service'
import { CaptureModel } from './model'
import { backLink, errorPage, PAGE_HEADERS, thankYouPage } from './pages'
import { captureLead, honeypotFilled, originAllowed, preflightAllowed, prefersHtml, redirectTarget, type CaptureBody } from './service'

/** How long browsers may cache a preflight answer; short, so origin-list changes apply soon. */
const PREFLIGHT_MAX_AGE_SECONDS = 600

const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, Idempotency-Key'
const CORS_EXPOSE_HEADERS =
  'X-Request-Id, Idempotent-Replayed, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit, RateLimit-Policy'

const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data']

function isFormPost(request: Request): boolean {
  return FORM_TYPES.includes(mediaType(request.headers.get('content-type')))
}

/** A plain HTML form's submission: a form body from a browser navigating, which shows the answer as a page. */
function isPlainFormPost(request: Request): boolean {
  return isFormPost(request) && prefersHtml(request.headers.get('accept'))
}

const CAPTURE_PATH = `${API_PREFIX}/leads/capture`

/**
 * A refused plain-form submission gets an HTML page saying what went wrong, with its status; a
 * visitor must not be shown problem+json. Scripts (fetch, Accept JSON) keep the problem.
 */
export const captureErrorPage: ErrorPage = (request, problem) => {
  if (request.method !== 'POST' || !isPlainFormPost(request)) return null
  // An odd request line can leave a URL that does not parse; no browser sends one, so it gets the problem.
  if (!URL.canParse(request.url) || new URL(request.url).pathname.replace(/\/$/, '') !== CAPTURE_PATH) return null
  return { body: errorPage(problem, backLink(request.headers.get('referer'))), headers: { ...PAGE_HEADERS } }
}

/** The /leads/capture routes; the POST takes form bodies and a key sent in the body (`parse` and `keyFrom` below). */
export const captureModule = (deps: AppDeps, auth: AuthPlugin) => {
  const checkKey = (presented: string) => authenticateKey(deps, presented)

  /** Authenticates a key from the form (the gate already checked a header or `?key=`); a missing key gets a hint at all three places one may go. */
  const authenticateCapture = async (request: Request, presented: string | null): Promise<Auth> => {
    try {
      return await authenticateFromPage(checkKey, request, presented)
    } catch (error) {
      if (presented === null && error instanceof ApiError && error.code === 'unauthorized') throw new ApiError('unauthorized', NO_CAPTURE_KEY)
      throw error
    }
  }

  return new Elysia({ prefix: '/leads', tags: ['Leads'] })
    .use(auth)
    .use(formParser)
    .options(
      '/capture',
      async ({ request, query, set }) => {
        const origin = request.headers.get('origin')
        set.headers.vary = 'Origin'
        set.status = 204
        if (!origin) {
          set.headers.allow = 'POST, OPTIONS'
          return
        }
        if (!(await preflightAllowed(deps, origin, query.key ?? null))) {
          throw new ApiError('origin_not_allowed', `The origin '${origin}' is not on the allowed origins of any publishable key for this endpoint.`)
        }
        set.headers['access-control-allow-origin'] = origin
        set.headers['access-control-allow-methods'] = 'POST, OPTIONS'
        set.headers['access-control-allow-headers'] = CORS_ALLOW_HEADERS
        set.headers['access-control-max-age'] = String(PREFLIGHT_MAX_AGE_SECONDS)
      },
      {
        query: CaptureModel.query,
        response: { 204: t.Void({ description: 'Preflight accepted; the Access-Control-* headers say what is allowed.' }), ...problems(403, 429) },
        detail: {
          summary: 'CORS preflight for capture',
          description:
            "Browsers ask this before a cross-origin `fetch`. With `?key=`, allowed when the Origin is on that publishable key's allowed origins, else 403. " +
            'Without `?key=` (the key then travels in the Authorization header, which preflights do not carry) every origin gets the same 204, so the answer ' +
            "tells nobody which sites use askad; the POST itself then checks its key's list and refuses other origins with 403 and no CORS headers, so the page " +
            'cannot read the answer. Preflights are limited per client IP (the instance rate limit, e.g. 100 per minute); browsers cache them for 10 minutes.',
        },
      },
    )
    .post(
      '/capture',
      async ({ body, request, server, set }) => {
        const auth = authOf(request)!
        const fields = body as CaptureBody
        const origin = request.headers.get('origin')
        const referrer = request.headers.get('referer')
        const wantsHtml = isPlainFormPost(request)
        const redirectTo = fields._redirect === undefined ? null : redirectTarget(fields._redirect, origin ?? referrer, auth.key)

        const answer = (id: string): Answer<{ id: string; status: 'created' } | string> => {
          if (!wantsHtml) return { status: 201, body: { id, status: 'created' as const } }
          if (redirectTo) return { status: 303, headers: { location: redirectTo }, body: '' }
          // Not back to the Referer: browsers send only its origin cross-site, which would drop the visitor on the site's home page.
          return { status: 200, headers: { ...PAGE_HEADERS }, body: thankYouPage(backLink(referrer)) }
        }
        if (honeypotFilled(fields._gotcha)) {
          // Bots must not learn that they were caught: same answer as a real success, nothing stored.
          deps.logger.info('capture.spam', { request_id: requestContext(request).id, workspace_id: auth.workspaceId, key_prefix: auth.key.prefix })
          const { status, headers, body } = answer(newId())
          set.status = status
          Object.assign(set.headers, headers)
          return body
        }
        const ip = clientIpOf(request, server, deps.config.trustedProxies)
        const context = { ip, userAgent: request.headers.get('user-agent'), referrer }
        return answerWrite(
          { request, set },
          deps,
          (d) => captureLead(d, auth.workspaceId, fields, context),
          (lead) => answer(lead.id),
        )
      },
      {
        body: CaptureModel.body,
        query: CaptureModel.query,
        parse: FORM_PARSER,
        keyFrom: ['header', 'query', 'form'],
        // The key may be in the body (`_key`), so it is checked here, after parsing and before validation.
        async transform({ request, body, query, set }) {
          const fields = (body ?? {}) as CaptureBody
          await refuseSecretKeysFromPage(request, [fields._key].flat())
          const formKey = typeof fields._key === 'string' ? fields._key : null
          const found = authOf(request) ?? (await authenticateCapture(request, query.key ?? formKey))
          requireScope(found, 'leads:capture')
          const origin = request.headers.get('origin')
          set.headers.vary = 'Origin'
          if (origin === null) return
          if (found.key.kind === 'publishable' && !originAllowed(found.key, origin, new URL(request.url).origin)) {
            throw new ApiError('origin_not_allowed', `The origin '${origin}' is not on this key's allowed origins.`)
          }
          set.headers['access-control-allow-origin'] = origin
          set.headers['access-control-expose-headers'] = CORS_EXPOSE_HEADERS
        },
        response: { 201: CaptureModel.created, 200: CaptureModel.thankYouPage, 303: CaptureModel.redirect, ...problems(...BODY_ERRORS) },
        detail: {
          // Checked in the transform above (the key may come in the body), not by the scope macro.
          [SCOPE_EXTENSION]: 'leads:capture',
          // The 201 is for a browser, which has no use for the lead's URL (it cannot read it with a publishable key).
          [LOCATION_EXTENSION]: false,
          operationId: 'captureLead',
          summary: 'Capture a lead from a web form or page',
          description:
            'For landing pages, embedded widgets and plain HTML forms (no JavaScript needed). Send a publishable key (`ask_pk_…`, scope `leads:capture`) as ' +
            "`Authorization: Bearer`, `?key=` or form field `_key`. CORS is answered only for the key's allowed origins; other origins get 403, and secret keys " +
            'are refused on requests from another origin. `name` is split into first and last name; `utm_*` and unknown fields are kept in metadata; the client IP, ' +
            'user agent, referrer, `page_url` and `utm_*` are recorded as the context. A form post whose Accept prefers HTML (a plain HTML form) is answered ' +
            'with 303 to `_redirect` (which must be on the key\'s allowed origins), else with a small built-in "Thank you" page (200) linking back to the Referer; ' +
            'when refused it gets an HTML page saying what went wrong, with the same status (422 for a bad email), instead of problem+json. A filled `_gotcha` ' +
            'honeypot gets the same answer as a success, but nothing is stored. Emits `lead.created`.',
        },
      },
    )
}
