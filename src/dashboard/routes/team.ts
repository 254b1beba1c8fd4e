/**
 * Operators' pages outside a workspace (their workspaces, the switcher, the first-run setup, invite
 * links) and a workspace's team settings (name, deletion, members, invites).
 */
import { Elysia } from 'elysia'
import { ApiError } from '../../errors'
import { SYSTEM_ACTOR } from '../../lib/actor'
import { actingAs } from '../../modules/audit/service'
import { formParser } from '../../plugins/body'
import { clientIpOf } from '../../plugins/request-context'
import {
  acceptInvite,
  anyOperator,
  changeRole,
  createInvite,
  createOwner,
  findInvite,
  joinByInvite,
  listInvites,
  listMembers,
  parseRole,
  removeMember,
  revokeInvite,
  roleIn,
  workspacesOf,
} from '../../modules/operators/service'
import { findSession, signInOperator } from '../../modules/sessions/service'
import { createWorkspaceFor, deleteWorkspace, findWorkspace, renameWorkspace } from '../../modules/workspaces/service'
import { readCookie, SESSION_COOKIE, sessionCookie } from '../guard'
import { html } from '../html'
import { BASE, bareLayout, WORKSPACE, workspaceBase } from '../layout'
import { setupPage } from '../pages/sign-in'
import { inviteCreatedPage, inviteGonePage, invitePage, membersPage, workspaceSettingsPage, workspacesPage } from '../pages/team'
import { currentWorkspace, type DashboardKit, DONE_OUTSIDE, field, FORM_POST, HIDDEN, type InSession, notFoundPage, redirect, respond } from '../kit'

/** The token of an invite link; a path segment that does not decode (`%C0%AE`) is no token, so it finds no invite. */
const inviteToken = (params: Record<string, string | undefined>) => params.token ?? ''

/** A slug as the switcher may send it; anything else cannot name a workspace. */
const SLUG_SHAPE = /^[a-z0-9][a-z0-9-]{0,62}$/

/** Team pages and actions; owners alone manage members, rename and delete (kit's ownerOnly). */
export const teamRoutes = (kit: DashboardKit) => {
  const { deps, clock, inSession, signedIn, ownerOnly, page, publicOrigin } = kit

  /** An operator's session (the workspaces page is theirs alone); a key session goes to its workspace. */
  const operatorOnly = (handler: (c: InSession & { operatorId: string; email: string }) => Response | Promise<Response>) =>
    inSession(async (c) => {
      if (!c.active.operator) {
        const mine = await currentWorkspace(deps, c.active)
        return redirect(mine ? workspaceBase(mine.slug) : `${BASE}/sign-in`)
      }
      return handler({ ...c, operatorId: c.active.operator.id, email: c.active.operator.email })
    })

  const workspacesView = async (
    c: InSession & { operatorId: string; email: string },
    status = 200,
    extra: Partial<Parameters<typeof workspacesPage>[0]> = {},
  ) => {
    const done = c.query.done && Object.hasOwn(DONE_OUTSIDE, c.query.done) ? DONE_OUTSIDE[c.query.done] : undefined
    const mine = await workspacesOf(deps, c.operatorId)
    const notice = done ? { kind: 'ok' as const, text: done } : undefined
    return respond(workspacesPage({ who: c.email, csrf: c.active.session.csrfToken, mine, notice, ...extra }), status)
  }

  /** Deps for a request without a session (setup, joining by invite): the system acts, from the client's address. */
  const anonymous = (request: Request, server: Parameters<typeof clientIpOf>[1]) =>
    actingAs(deps, { ...SYSTEM_ACTOR, ip: clientIpOf(request, server, deps.config.trustedProxies) })

  /** Whether the operator is a member of the workspace of a live invite already (accepting it then changes nothing). */
  const memberOfInvited = async (token: string, operatorId: string) => {
    const invite = await findInvite(deps, token)
    return !!invite && !!(await roleIn(deps, invite.workspaceId, operatorId))
  }

  let setupBusy = false

  /** The setup link works while its token matches and no operator exists (one made by the CLI meanwhile closes it too). */
  const setupOpen = async (token: string | undefined) => {
    if (!deps.setupGate?.check(token)) return false
    if (!(await anyOperator(deps))) return true
    deps.setupGate.close()
    return false
  }

  const setupRefused = () =>
    respond(
      bareLayout(
        'Set up askad',
        html`<section class="card sign-in"><h1>Set up askad</h1><p>This setup link is not valid (used already, or the server restarted since it was printed). Sign in instead.</p><p><a href="${BASE}/sign-in">Sign in</a></p></section>`,
      ),
      404,
    )

  return (
    new Elysia()
      .use(formParser)
      .get(
        BASE,
        inSession(async (c) => {
          const mine = await currentWorkspace(deps, c.active)
          return redirect(mine ? workspaceBase(mine.slug) : `${BASE}/workspaces`)
        }),
        HIDDEN,
      )
      .get(
        `${BASE}/switch`,
        inSession(async (c) => (c.query.to && SLUG_SHAPE.test(c.query.to) ? redirect(workspaceBase(c.query.to)) : notFoundPage(c.path))),
        HIDDEN,
      )
      .get(
        `${BASE}/workspaces`,
        operatorOnly((c) => workspacesView(c)),
        HIDDEN,
      )
      .post(
        `${BASE}/workspaces`,
        operatorOnly(async (c) => {
          const form = { slug: field(c.body, 'slug') ?? '', name: field(c.body, 'name') ?? '' }
          try {
            const created = await createWorkspaceFor(c.deps, c.operatorId, form)
            return redirect(`${workspaceBase(created.slug)}?done=created`)
          } catch (error) {
            if (!(error instanceof ApiError)) throw error
            return workspacesView(c, error.status, { form, notice: { kind: 'error', text: error.detail } })
          }
        }),
        FORM_POST,
      )
      // First-run setup: no session (there is no operator yet); the printed token is the proof.
      .get(`${BASE}/setup`, async ({ query }) => ((await setupOpen(query.token)) ? respond(setupPage({ token: query.token! })) : setupRefused()), HIDDEN)
      .post(
        `${BASE}/setup`,
        async ({ request, body, server }) => {
          const token = field(body, 'token')
          const gate = deps.setupGate
          // One setup at a time: two forms sent at once with the link must not make two first operators.
          if (!gate || setupBusy || !(await setupOpen(token)) || setupBusy) return setupRefused()
          setupBusy = true
          const email = field(body, 'email') ?? ''
          try {
            const operator = await createOwner(anonymous(request, server), { email, password: field(body, 'password') ?? '' })
            gate.close()
            const opened = await signInOperator(deps, operator.id)
            return redirect(BASE, { 'set-cookie': sessionCookie(request, opened.token) })
          } catch (error) {
            if (!(error instanceof ApiError)) throw error
            return respond(setupPage({ token: token!, email, notice: { kind: 'error', text: error.detail } }), error.status)
          } finally {
            setupBusy = false
          }
        },
        FORM_POST,
      )
      // Invite links: open to anyone holding one; joining as a new operator needs no session.
      .get(
        `${BASE}/invite/:token`,
        async ({ request, params }) => {
          const token = inviteToken(params)
          const invite = await findInvite(deps, token)
          const workspace = invite && (await findWorkspace(deps, invite.workspaceId))
          if (!invite || !workspace) return respond(inviteGonePage(), 404)
          const active = await findSession(deps, readCookie(request, SESSION_COOKIE))
          const signedInAs = active?.operator ? { email: active.operator.email, csrf: active.session.csrfToken } : undefined
          return respond(invitePage({ token, workspace, role: invite.role, signedInAs }))
        },
        HIDDEN,
      )
      .post(
        `${BASE}/invite/:token/accept`,
        operatorOnly(async (c) => {
          try {
            const wasMember = await memberOfInvited(inviteToken(c.params), c.operatorId)
            const workspaceId = await acceptInvite(c.deps, inviteToken(c.params), c.operatorId)
            const workspace = await findWorkspace(deps, workspaceId)
            return redirect(workspace ? `${workspaceBase(workspace.slug)}${wasMember ? '' : '?done=joined'}` : BASE)
          } catch (error) {
            if (!(error instanceof ApiError)) throw error
            return respond(inviteGonePage(), 404)
          }
        }),
        FORM_POST,
      )
      .post(
        `${BASE}/invite/:token/join`,
        async ({ request, params, body, server }) => {
          const token = inviteToken(params)
          const invite = await findInvite(deps, token)
          const workspace = invite && (await findWorkspace(deps, invite.workspaceId))
          if (!invite || !workspace) return respond(inviteGonePage(), 404)
          const email = field(body, 'email') ?? ''
          try {
            const { operator } = await joinByInvite(anonymous(request, server), token, { email, password: field(body, 'password') ?? '' })
            const opened = await signInOperator(deps, operator.id, workspace.id)
            return redirect(`${workspaceBase(workspace.slug)}?done=joined`, { 'set-cookie': sessionCookie(request, opened.token) })
          } catch (error) {
            if (!(error instanceof ApiError)) throw error
            if (error.status === 404) return respond(inviteGonePage(), 404)
            return respond(invitePage({ token, workspace, role: invite.role, email, notice: { kind: 'error', text: error.detail } }), error.status)
          }
        },
        FORM_POST,
      )
      .get(
        `${WORKSPACE}/settings/workspace`,
        signedIn((c) => page(c, 'Workspace settings', workspaceSettingsPage(c.viewer, c.workspace))),
        HIDDEN,
      )
      .post(
        `${WORKSPACE}/settings/workspace`,
        signedIn(
          ownerOnly(async (c) => {
            await renameWorkspace(c.deps, c.workspaceId, field(c.body, 'name') ?? '')
            return redirect(`${c.viewer.base}/settings/workspace?done=renamed`)
          }),
        ),
        FORM_POST,
      )
      .post(
        `${WORKSPACE}/settings/workspace/delete`,
        signedIn(
          ownerOnly(async (c) => {
            if (field(c.body, 'confirm')?.trim() !== c.workspace.slug)
              throw new ApiError('validation_failed', `Type the workspace's slug, ${c.workspace.slug}, to confirm its deletion; nothing was deleted.`)
            await deleteWorkspace(c.deps, c.workspaceId)
            return redirect(`${BASE}/workspaces?done=deleted`)
          }),
        ),
        FORM_POST,
      )
      .get(
        `${WORKSPACE}/settings/members`,
        signedIn(async (c) => {
          const [members, invites] = await Promise.all([listMembers(deps, c.workspaceId), listInvites(deps, c.workspaceId)])
          return page(c, 'Members', membersPage(c.viewer, members, invites, clock.now(), c.active.operator?.id ?? null))
        }),
        HIDDEN,
      )
      .post(
        `${WORKSPACE}/settings/members/:operator/role`,
        signedIn(
          ownerOnly(async (c) => {
            await changeRole(c.deps, c.workspaceId, c.params.operator!, parseRole(field(c.body, 'role')))
            return redirect(`${c.viewer.base}/settings/members?done=role`)
          }),
        ),
        FORM_POST,
      )
      .post(
        `${WORKSPACE}/settings/members/:operator/remove`,
        signedIn(
          ownerOnly(async (c) => {
            await removeMember(c.deps, c.workspaceId, c.params.operator!)
            // An owner who left can no longer open this workspace's pages: their workspaces are what is left.
            if (c.params.operator === c.active.operator?.id) return redirect(`${BASE}/workspaces`)
            return redirect(`${c.viewer.base}/settings/members?done=removed`)
          }),
        ),
        FORM_POST,
      )
      .post(
        `${WORKSPACE}/settings/invites`,
        signedIn(
          ownerOnly(async (c) => {
            const role = parseRole(field(c.body, 'role'))
            const { token } = await createInvite(c.deps, c.workspaceId, role)
            const link = `${publicOrigin(c)}${BASE}/invite/${token}`
            return page(c, 'Members', inviteCreatedPage(c.viewer, link, role), 201, [])
          }),
        ),
        FORM_POST,
      )
      .post(
        `${WORKSPACE}/settings/invites/:id/revoke`,
        signedIn(
          ownerOnly(async (c) => {
            await revokeInvite(c.deps, c.workspaceId, c.params.id!)
            return redirect(`${c.viewer.base}/settings/members?done=uninvited`)
          }),
        ),
        FORM_POST,
      )
  )
}
