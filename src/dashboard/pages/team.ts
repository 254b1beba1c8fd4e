/** An operator's workspaces, a workspace's settings (rename, delete), its members and invites, and the invite link's page. */
import { iso } from '../../lib/clock'
import { ROLES, type Invite, type Member, type Role } from '../../modules/operators/service'
import type { Workspace } from '../../modules/workspaces/service'
import { html, type Html } from '../html'
import { actionButton, BASE, bareLayout, csrfField, notices, table, when, workspaceBase, type Notice, type Viewer } from '../layout'
import { credentialFields } from './sign-in'

const ROLE_TEXT: Record<Role, string> = {
  owner: 'Owner: everything, plus members, renaming and deleting the workspace',
  admin: 'Admin: everything the API allows (keys, webhooks, deals, campaigns, contacts)',
  viewer: 'Viewer: reads every page, changes nothing',
}

function roleOptions(selected: Role): Html {
  return html`${ROLES.map((r) => html`<option value="${r}"${r === selected ? html` selected` : ''}>${r}</option>`)}`
}

/** The operator's workspaces and the form that creates one (outside any workspace, so its own small page). */
export function workspacesPage(opts: {
  who: string
  csrf: string
  mine: { workspace: Workspace; role: Role }[]
  notice?: Notice
  form?: { slug: string; name: string }
}): Html {
  const csrf = html`<input type="hidden" name="_csrf" value="${opts.csrf}">`
  const rows = opts.mine.map(
    ({ workspace, role }) =>
      html`<tr><td><a href="${workspaceBase(workspace.slug)}">${workspace.name}</a></td><td><code>${workspace.slug}</code></td><td>${role}</td></tr>`,
  )
  return bareLayout(
    'Workspaces',
    html`<section class="card">
  <h1>Your workspaces</h1>
  <p class="muted small">Signed in as ${opts.who}.</p>
  ${notices(opts.notice ? [opts.notice] : [])}
  ${table(['Workspace', 'Slug', 'Your role'], rows, 'You are not a member of any workspace yet: create one, or ask an owner for an invite link.')}
  <form method="post" action="${BASE}/workspaces" class="stack" id="create-workspace">
    <h2>Create a workspace</h2>
    ${csrf}
    <label>Slug (a-z, 0-9 and -; in URLs and the API) <input name="slug" value="${opts.form?.slug ?? ''}" pattern="[a-z0-9][a-z0-9\\-]{0,62}" maxlength="63" required></label>
    <label>Name <input name="name" value="${opts.form?.name ?? ''}" maxlength="100" placeholder="Acme Inc."></label>
    <button type="submit" class="primary">Create workspace</button>
  </form>
  <form method="post" action="${BASE}/sign-out">${csrf}<button type="submit" class="link">Sign out</button></form>
</section>`,
  )
}

/** Settings > Workspace: its name (owners rename it) and, for owners, deletion after typing the slug. */
export function workspaceSettingsPage(viewer: Viewer, workspace: Workspace): Html {
  const owner = viewer.role === 'owner'
  return html`<section class="card stack">
  <h2>Name</h2>
  ${
    owner
      ? html`<form method="post" action="${viewer.base}/settings/workspace" class="stack" id="rename-workspace">
    ${csrfField(viewer)}
    <label>Name <input name="name" value="${workspace.name}" maxlength="100" required></label>
    <button type="submit">Rename</button>
  </form>`
      : html`<p>${workspace.name} <span class="muted">(only an owner can rename it)</span></p>`
  }
  <p class="muted small">Slug <code>${workspace.slug}</code> (stays: URLs and the API use it) · created ${when(iso(workspace.createdAt))}</p>
</section>
${
  owner
    ? html`<section class="card stack danger-zone">
  <h2>Delete this workspace</h2>
  <p class="notice error" role="note"><b>Everything in it goes, for good:</b> contacts, leads, deals, campaigns, API keys (they stop working at once), webhook endpoints and their deliveries, members and invites. There is no undo.</p>
  <form method="post" action="${viewer.base}/settings/workspace/delete" class="stack" id="delete-workspace">
    ${csrfField(viewer)}
    <label>Type the slug <code>${workspace.slug}</code> to confirm <input name="confirm" autocomplete="off" spellcheck="false" required></label>
    <button type="submit" class="danger">Delete workspace and everything in it</button>
  </form>
</section>`
    : ''
}`
}

/** Settings > Members: members and roles, and pending invites; owners change roles, remove members and invite. */
export function membersPage(viewer: Viewer, members: Member[], invites: Invite[], now: number, you: string | null): Html {
  const owner = viewer.role === 'owner'
  const rows = members.map((m) => {
    const actions = owner
      ? html`<form method="post" action="${viewer.base}/settings/members/${m.operatorId}/role" class="inline">${csrfField(viewer)}<label class="visually-hidden" for="role-${m.operatorId}">Role of ${m.email}</label><select id="role-${m.operatorId}" name="role">${roleOptions(m.role)}</select> <button type="submit">Change</button></form>
  ${actionButton(viewer, `${viewer.base}/settings/members/${m.operatorId}/remove`, 'Remove', { confirm: `Remove ${m.email} from this workspace? Their access ends at once.`, className: 'danger' })}`
      : ''
    return html`<tr data-member="${m.email}"><td>${m.email}${m.operatorId === you ? html` <span class="badge">you</span>` : ''}</td><td>${m.role}</td><td>${when(iso(m.createdAt))}</td><td>${actions}</td></tr>`
  })
  const inviteRows = invites.map(
    (i) =>
      html`<tr data-invite="${i.id}"><td>${i.role}</td><td>${when(iso(i.createdAt))}</td><td>${i.expiresAt > now ? when(iso(i.expiresAt)) : html`<span class="badge bad">expired</span>`}</td><td>${owner ? actionButton(viewer, `${viewer.base}/settings/invites/${i.id}/revoke`, 'Revoke', { className: 'danger' }) : ''}</td></tr>`,
  )
  return html`<p><a href="${viewer.base}/settings/workspace">Workspace settings</a> (name${owner ? ', deletion' : ''})</p>
${table(['Member', 'Role', 'Since', ''], rows, 'No members: only API keys open this workspace.')}
<dl class="roles">${ROLES.map((r) => html`<dt>${r}</dt><dd>${ROLE_TEXT[r].split(': ')[1]}</dd>`)}</dl>
<h2>Pending invites</h2>
${table(['Role', 'Created', 'Expires', ''], inviteRows, 'No pending invites.')}
${
  owner
    ? html`<form method="post" action="${viewer.base}/settings/invites" class="card stack" id="create-invite">
  <h2>Invite someone</h2>
  ${csrfField(viewer)}
  <p>You get a one-time link to pass on (there is no e-mail); it works for 7 days, once.</p>
  <label>Role <select name="role">${roleOptions('viewer')}</select></label>
  <button type="submit" class="primary">Create invite link</button>
</form>`
    : html`<p class="muted">Only an owner can invite members or change roles.</p>`
}`
}

/** The one time an invite link is shown. */
export function inviteCreatedPage(viewer: Viewer, link: string, role: Role): Html {
  return html`<section class="card once" role="status">
  <h2>Invite link (${role})</h2>
  <p><b>Copy it now and pass it on.</b> askad keeps only a hash: this is the only time the link is shown. It works once, for 7 days.</p>
  <div class="secret"><code id="invite-link">${link}</code><button type="button" data-copy="invite-link">Copy</button></div>
  <p><a href="${viewer.base}/settings/members">Done, back to the members</a></p>
</section>`
}

/** What opening an invite link shows: accept as the signed-in operator, or sign in / create an account first. */
export function invitePage(opts: {
  token: string
  workspace: Workspace
  role: Role
  signedInAs?: { email: string; csrf: string }
  notice?: Notice
  email?: string
}): Html {
  const path = `${BASE}/invite/${opts.token}`
  const body = opts.signedInAs
    ? html`<form method="post" action="${path}/accept" id="accept-invite">
    <input type="hidden" name="_csrf" value="${opts.signedInAs.csrf}">
    <p>Signed in as ${opts.signedInAs.email}.</p>
    <button type="submit" class="primary">Join ${opts.workspace.name}</button>
  </form>`
    : html`<p>Have an account? <a href="${BASE}/sign-in?next=${encodeURIComponent(path)}">Sign in</a> and come back to this link.</p>
  <form method="post" action="${path}/join" id="join-invite">
    <h2>Or create your account</h2>
    ${credentialFields(opts.email, 'new-password')}
    <button type="submit" class="primary">Create account and join</button>
  </form>`
  return bareLayout(
    'Invitation',
    html`<section class="card sign-in">
  <h1>Join ${opts.workspace.name}</h1>
  <p>You are invited as <b>${opts.role}</b>: ${ROLE_TEXT[opts.role].split(': ')[1]}.</p>
  ${notices(opts.notice ? [opts.notice] : [])}
  ${body}
</section>`,
  )
}

/** An invite link that does not work (the same page whether it never existed, was used, revoked or expired). */
export function inviteGonePage(): Html {
  return bareLayout(
    'Invitation',
    html`<section class="card sign-in"><h1>Invitation</h1><p>This invite link is not valid: it was used, revoked or has expired. Ask for a new one.</p></section>`,
  )
}
