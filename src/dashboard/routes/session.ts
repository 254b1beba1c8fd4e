/** Signing in (email and password, or an API key) and out of the dashboard. */
import { Elysia } from 'elysia'
import { formParser } from '../../plugins/body'
import { SIGN_IN_FAILURES } from '../../errors/messages'
import { keyActor, operatorActor } from '../../lib/actor'
import { actingAs, recordAudit } from '../../modules/audit/service'
import { checkPassword, workspacesOf } from '../../modules/operators/service'
import { endSession, findSession, signIn, signInOperator } from '../../modules/sessions/service'
import { clientIpOf } from '../../plugins/request-context'
import { clearedCookie, createSignInLimiter, readCookie, sameOrigin, SESSION_COOKIE, sessionCookie } from '../guard'
import { BASE, type Notice } from '../layout'
import { signInPage } from '../pages/sign-in'
import { type DashboardKit, field, FORM_POST, forbidden, HIDDEN, redirect, respond, safeNext } from '../kit'

/** One answer for an unknown email and a wrong password: it must not tell which emails exist. */
const WRONG_PASSWORD = 'Wrong email or password.'

/** The sign-in page, its forms (failures limited per client IP) and sign-out. */
export const sessionRoutes = (kit: DashboardKit) => {
  const { deps, clock, inSession } = kit
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
        const key = field(body, 'key')
        const email = field(body, 'email') ?? ''
        const page = (notice: Notice) => signInPage({ next, notice, email, withKey: key !== undefined })
        const tooMany = (wait: number) =>
          respond(page({ kind: 'error', text: `Too many failed sign-ins from your address; try again in ${wait} seconds.` }), 429, {
            'retry-after': String(wait),
          })
        // A failed key or password counts against the address alike.
        const failed = async (text: string) => {
          const wait = await limiter.failed(ip)
          if (wait > 0) return tooMany(wait)
          return respond(page({ kind: 'error', text }), 401)
        }
        if (key !== undefined) {
          const result = await signIn(deps, key)
          if ('failure' in result) return failed(SIGN_IN_FAILURES[result.failure])
          await recordAudit(actingAs(deps, keyActor(result.key, ip)), {
            workspaceId: result.session.workspaceId,
            action: 'session.signed_in',
            target: { type: 'session', id: null },
          })
          return redirect(next, { 'set-cookie': sessionCookie(request, result.token) })
        }
        // Once the address's failures are used up no password is checked: a 303 for the right one would tell a guesser to stop.
        const wait = await limiter.waitFor(ip)
        if (wait > 0) return tooMany(wait)
        const operator = await checkPassword(deps, email, field(body, 'password') ?? '')
        if (!operator) return failed(WRONG_PASSWORD)
        const opened = await signInOperator(deps, operator.id)
        // An operator signs in to no workspace in particular (the entry of none, kept for the account) and may open any
        // of theirs: each one's log shows it too.
        const workspaceIds = [null, ...(await workspacesOf(deps, operator.id)).map(({ workspace }) => workspace.id)]
        await recordAudit(
          actingAs(deps, operatorActor(operator, ip)),
          workspaceIds.map((workspaceId) => ({ workspaceId, action: 'session.signed_in', target: { type: 'session', id: null } })),
        )
        return redirect(next, { 'set-cookie': sessionCookie(request, opened.token) })
      },
      FORM_POST,
    )
    .post(
      `${BASE}/sign-out`,
      inSession(async ({ request }) => {
        await endSession(deps, readCookie(request, SESSION_COOKIE))
        return redirect(`${BASE}/sign-in`, { 'set-cookie': clearedCookie() })
      }),
      FORM_POST,
    )
}
