/** Signing in and out of the dashboard. */
import { Elysia } from 'elysia'
import { formParser } from '../../plugins/body'
import { SIGN_IN_FAILURES } from '../../errors/messages'
import { keyActor } from '../../lib/actor'
import { actingAs, recordAudit } from '../../modules/audit/service'
import { endSession, findSession, signIn } from '../../modules/sessions/service'
import { clientIpOf } from '../../plugins/request-context'
import { clearedCookie, createSignInLimiter, readCookie, sameOrigin, SESSION_COOKIE, sessionCookie } from '../guard'
import { BASE, type Notice } from '../layout'
import { signInPage } from '../pages/sign-in'
import { type DashboardKit, field, FORM_POST, forbidden, HIDDEN, redirect, respond, safeNext } from '../kit'

/** The sign-in page, its form (failures limited per client IP) and sign-out. */
export const sessionRoutes = (kit: DashboardKit) => {
  const { deps, clock, signedIn } = kit
  const limiter = createSignInLimiter(clock, deps.rateLimitStore)

  return new Elysia()
    .use(formParser)
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
        await recordAudit(actingAs(deps, keyActor(result.key, ip)), {
          workspaceId: result.session.workspaceId,
          action: 'session.signed_in',
          target: { type: 'session', id: null },
        })
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
}
