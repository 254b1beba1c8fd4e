/**
 * Authentication and scope checks for /api/v1, in one plugin.
 * The key is checked in onRequest, before the body is read or validated, and the rate limits
 * are applied right there; routes declare `{ scope: 'leads:write' }` and get a typed `auth`
 * ({ key, workspaceId }) in their context.
 *
 * The gate decides "is this /api/v1?" from the path Elysia's router routes on (the `path` of the
 * request context), never from a re-parse of the URL: the two disagree for odd request lines
 * (`Host: a`, absolute-form targets), and a disagreement must not skip the gate. It also fails
 * closed: a key is accepted only on a request the gate bound to its rate limits, so a handler
 * reached around the gate finds no auth and refuses.
 *
 * Routes whose key may arrive in the body declare `keyFrom: ['header', 'query', 'form']`; the
 * gate, which runs before routing and before any body is read, learns those paths from its own
 * app's route table (route-table.ts), so apps in one process never share the list.
 */
import { Elysia } from 'elysia'
import type { Config } from '../config'
import type { Auth, Authenticate, AuthFailure } from '../db/api-key'
import { API_PREFIX } from '../lib/api-prefix'
import { after } from '../lib/maybe-async'
import type { Clock } from '../lib/clock'
import type { RateLimitStore } from '../lib/token-bucket'
import { ApiError } from '../errors'
import {
  API_AUTH_FAILURES,
  missingScope,
  NOT_GATED,
  SECRET_KEY_FROM_BROWSER,
  SECRET_KEY_IN_PAGE,
  SOURCE_AUTH_FAILURES,
  SOURCE_FROM_BROWSER,
} from '../errors/messages'
import type { Scope } from '../lib/scopes'
import { SECRET_KEY_PREFIX } from '../lib/keys'
import { createRateLimits } from './rate-limit'
import { clientIpOf, requestContext, routedPath } from './request-context'
import { fromRouteTable, keyFromTransform, keySourcesOf, type KeySource, type RouteEntry } from './route-table'

export type { Auth } from '../db/api-key'

/** What the gate is built from: the key check (the api-keys module's, wired in app.ts), time and the limits. */
export interface AuthDeps {
  authenticate: Authenticate
  /**
   * The check of a source URL's token (the sources module's, wired in app.ts): it stands for a key holding only
   * `leads:write`. Without it (apps built for a test of the gate alone) every token is unknown.
   */
  authenticateSource?: Authenticate
  clock: Clock
  config: Pick<Config, 'rateLimit' | 'trustedProxies'>
  /** Where the rate-limit buckets live; this app's own memory when absent. */
  rateLimitStore?: RateLimitStore
}

/** The key presented in the Authorization header (Bearer, or Basic with the key as user name). */
export function presentedKey(request: Request): string | null {
  const header = request.headers.get('authorization')
  if (!header) return null
  const [scheme, value = ''] = header.trim().split(/\s+/, 2)
  if (/^bearer$/i.test(scheme!)) return value
  if (/^basic$/i.test(scheme!)) {
    try {
      return atob(value).split(':')[0]!
    } catch {
      return value
    }
  }
  return header
}

/** The authenticated key of a request, if any. */
export function authOf(request: Request): Auth | undefined {
  return requestContext(request).auth
}

/** What a refusal says, by credential: an API key's, or a source URL's (whose holder has no key to be told about). */
interface AuthMessages {
  failures: Record<AuthFailure, string>
  fromBrowser: string
}

const KEY_MESSAGES: AuthMessages = { failures: API_AUTH_FAILURES, fromBrowser: SECRET_KEY_FROM_BROWSER }
const SOURCE_MESSAGES: AuthMessages = { failures: SOURCE_AUTH_FAILURES, fromBrowser: SOURCE_FROM_BROWSER }

/**
 * Checks a presented key, applies the rate limits and records the key on the request; rejects with 401 on any failure.
 * The look-up is asynchronous (the key store may be PostgreSQL); the limits are synchronous on the memory store.
 */
export async function authenticate(check: Authenticate, request: Request, presented: string | null, messages: AuthMessages = KEY_MESSAGES): Promise<Auth> {
  const context = requestContext(request)
  const limits = context.limits
  // Fail closed: only the gate binds limits, so a request without them went around it.
  if (!limits) throw new ApiError('unauthorized', NOT_GATED)
  const result = await check(presented ?? '')
  if ('failure' in result) {
    await limits.authFailed()
    throw new ApiError('unauthorized', messages.failures[result.failure])
  }
  const key = result.key
  await limits.authenticated(key)
  const origin = request.headers.get('origin')
  if (key.kind === 'secret' && origin && origin !== new URL(request.url).origin) {
    throw new ApiError('forbidden', messages.fromBrowser)
  }
  const auth = { key, workspaceId: key.workspaceId }
  context.auth = auth
  context.keyPrefix = key.prefix
  return auth
}

/**
 * Refuses a secret key among keys that came in the URL (`?key=`) or a form field (`_key`): only
 * publishable keys may travel there, whatever else authenticates the request. The refusal counts
 * as a failed authentication. Returns nothing when no secret key is there; otherwise throws, or
 * returns a rejecting promise when the rate-limit store is shared.
 */
export function refuseSecretKeysFromPage(request: Request, presented: Iterable<unknown>): Promise<never> | undefined {
  for (const value of presented) {
    if (typeof value !== 'string' || !value.startsWith(SECRET_KEY_PREFIX)) continue
    const limits = requestContext(request).limits
    if (!limits) throw new ApiError('unauthorized', NOT_GATED)
    const refused = after(limits.authFailed(), () => {
      throw new ApiError('unauthorized', SECRET_KEY_IN_PAGE)
    })
    return refused as Promise<never>
  }
  return undefined
}

/** Authenticates a key that came in the URL (`?key=`) or a form field (`_key`); a secret key is refused without a look-up. */
export async function authenticateFromPage(check: Authenticate, request: Request, presented: string | null): Promise<Auth> {
  await refuseSecretKeysFromPage(request, [presented])
  return authenticate(check, request, presented)
}

/** Throws 403 unless the request's key holds the scope. */
export function requireScope(auth: Auth, scope: Scope): void {
  if (!auth.key.scopes.includes(scope)) {
    throw new ApiError('insufficient_scope', missingScope(scope))
  }
}

/** OpenAPI extension naming the scope an operation needs (`x-required-scope: leads:read`). */
export const SCOPE_EXTENSION = 'x-required-scope'

/** Route side: the `{ scope }` and `{ keyFrom }` macros. Stateless, so every module can mount it. */
export const scopes = new Elysia({ name: 'auth-scopes' }).macro({
  /** Requires an authenticated key holding this scope; provides `auth`. */
  scope: (scope: Scope) => ({
    // The route table (and the OpenAPI document) names each route's scope: tests check every route against it.
    introspect(route) {
      const options = route as { detail?: Record<string, unknown> }
      options.detail = { ...options.detail, [SCOPE_EXTENSION]: scope }
    },
    transform({ request }) {
      const context = requestContext(request)
      if (!context.auth) throw new ApiError('unauthorized', context.limits ? API_AUTH_FAILURES.missing : NOT_GATED)
      requireScope(context.auth, scope)
    },
    resolve({ request }) {
      return { auth: requestContext(request).auth! }
    },
  }),
  /**
   * Where this route's key may come from. With 'form', the gate lets a request without a key in its
   * headers or URL through to the route, which then authenticates the `_key` form field itself.
   * Only static paths: the gate looks the declaration up by the routed path, before routing.
   */
  keyFrom: (sources: KeySource[]) => ({ transform: keyFromTransform(sources) }),
})

/** The route a deferred-auth lookup uses: Elysia routes `/x/` like `/x` (strictPath is off). */
function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path
}

/** The paths of this app whose key may come from a form, from its route table. */
function formKeyPaths(routes: RouteEntry[]): Set<string> {
  const paths = new Set<string>()
  for (const route of routes) {
    if (!keySourcesOf(route)?.includes('form')) continue
    if (/[:*]/.test(route.path)) throw new Error(`keyFrom: ['form'] needs a static path; '${route.path}' has parameters.`)
    paths.add(withoutTrailingSlash(route.path))
  }
  return paths
}

/** Where source URLs live: `/api/v1/in/{token}`, the token authenticating in place of a key. */
export const SOURCE_PATH_PREFIX = `${API_PREFIX}/in/`

/** The token of a source URL's path, or null for any other path. */
export function sourceTokenOf(path: string): string | null {
  return path.startsWith(SOURCE_PATH_PREFIX) ? withoutTrailingSlash(path.slice(SOURCE_PATH_PREFIX.length)) : null
}

/** App side: authenticates and rate-limits every /api/v1 request once, in onRequest; mount it on the root app only. */
export const auth = (deps: AuthDeps) => {
  const limits = createRateLimits(deps)
  const checkSource: Authenticate = deps.authenticateSource ?? (async () => ({ failure: 'unknown' }))
  const plugin = new Elysia({ name: 'auth' })
  // Built from this app's routes on its first request, never shared with another app.
  const deferredPaths = fromRouteTable(plugin, formKeyPaths)
  return plugin
    .onRequest(async (context) => {
      const { request, server, set } = context
      // No id, filter or key holds a NUL; PostgreSQL cannot even compare one. The same 400 on both engines.
      if (request.url.includes('%00')) throw new ApiError('bad_request', 'The URL contains a NUL character (%00), which no id, filter or key can hold.')
      // What the router matches on; see the note at the top of this file.
      const path = routedPath(context)
      if (!path.startsWith(`${API_PREFIX}/`)) return
      const ip = clientIpOf(request, server, deps.config.trustedProxies)
      // The limits are synchronous on the memory store and promises on a shared one; the key look-up is a promise.
      if (request.method === 'OPTIONS') return limits.preflight(ip, set.headers)
      limits.begin(request, ip, set.headers)
      const fromUrl = request.url.includes('?') ? new URL(request.url).searchParams.getAll('key') : []
      await refuseSecretKeysFromPage(request, fromUrl)
      // A source URL authenticates by its token alone, before any body is read; an Authorization header there is not looked at.
      const sourceToken = sourceTokenOf(path)
      if (sourceToken !== null) return void (await authenticate(checkSource, request, sourceToken, SOURCE_MESSAGES))
      const presented = presentedKey(request)
      if (presented !== null || !deferredPaths().has(withoutTrailingSlash(path))) {
        await authenticate(deps.authenticate, request, presented)
        return
      }
      // A page's key in the URL is checked here too, before any body is read.
      if (fromUrl.length > 0) return void (await authenticateFromPage(deps.authenticate, request, fromUrl[0]!))
      // The key can only be in the body now, which costs parsing: not for an address out of failures.
      return requestContext(request).limits!.refuseIfOutOfFailures()
    })
    .use(scopes)
}

export type AuthPlugin = typeof scopes
