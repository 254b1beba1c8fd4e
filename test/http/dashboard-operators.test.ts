/**
 * Operators in the dashboard through app.handle, on the engine under test: email and password
 * sign-in and its limits, workspaces in the URL (old paths redirect), the switcher, creating,
 * renaming and deleting workspaces, members and roles (viewer, admin, owner) and invite links.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { SIGN_IN_FAILURES_PER_WINDOW, SIGN_IN_WINDOW_MS } from '../../src/dashboard/guard'
import { createDeal } from '../../src/modules/deals/service'
import { createInvite, createOwner, INVITE_TTL_MS, joinByInvite, resetPassword, type Role } from '../../src/modules/operators/service'
import { openSetupGate } from '../../src/modules/operators/setup'
import { findWorkspace } from '../../src/modules/workspaces/service'
import { createHarness, type Harness } from '../helpers'

// argon2id is slow on purpose, more so on a busy machine.
setDefaultTimeout(60_000)

const ORIGIN = 'http://localhost'
const PASSWORD = 'correct horse battery'

const h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
afterAll(() => h.close())

let emails = 0
const nextEmail = () => `op${++emails}-${crypto.randomUUID().slice(0, 8)}@agency.example`

const form = (fields: Record<string, string | string[]>) => {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) params.append(k, one)
  return params
}

function post(path: string, fields: Record<string, string | string[]>, headers: Record<string, string> = {}, harness: Harness = h) {
  return harness.request('POST', path, { rawBody: form(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, ...headers } })
}

/** Signs an operator in by email and password; `get` and `send` act as that session (send adds the CSRF token). */
async function operatorSignIn(email: string, password = PASSWORD) {
  const res = await post('/dashboard/sign-in', { email, password, next: '/dashboard' })
  expect(res.status).toBe(303)
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!
  const get = (path: string) => h.request('GET', path, { headers: { cookie } })
  const csrfOf = async () => /name="_csrf" value="([^"]+)"/.exec(await (await get('/dashboard/workspaces')).text())![1]!
  const csrf = await csrfOf()
  const send = (path: string, fields: Record<string, string | string[]> = {}, headers: Record<string, string> = {}) =>
    post(path, { _csrf: csrf, ...fields }, { cookie, ...headers })
  return { res, cookie, get, send, csrf }
}

/** A new operator who is the owner of every workspace that exists now (like `askad operator create`). */
async function owner() {
  const email = nextEmail()
  const operator = await createOwner(h.deps, { email, password: PASSWORD })
  return { operator, email, ...(await operatorSignIn(email)) }
}

/** A new operator who joined a workspace by an invite with this role. */
async function member(workspaceId: string, role: Role) {
  const email = nextEmail()
  const { token } = await createInvite(h.deps, workspaceId, role)
  const { operator } = await joinByInvite(h.deps, token, { email, password: PASSWORD })
  return { operator, email, ...(await operatorSignIn(email)) }
}

describe('sign-in by email and password', () => {
  test('opens an operator session (HttpOnly, SameSite=Strict); the row names the operator, no key; last sign-in is kept', async () => {
    const ws = await h.workspace()
    const o = await owner()
    expect(o.res.headers.get('set-cookie')).toMatch(/^askad_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/)
    const [session] = (await h.rows.all('sessions', {})).filter((s) => s.operatorId === o.operator.id)
    expect(session).toMatchObject({ operatorId: o.operator.id, apiKeyId: null })
    expect((await h.rows.find('operators', { id: o.operator.id }))!.lastSignInAt).toBe(h.clock.now())
    // The email is matched trimmed and case-blind.
    expect((await post('/dashboard/sign-in', { email: ` ${o.email.toUpperCase()} `, password: PASSWORD })).status).toBe(303)
    const home = await o.get(`/dashboard/w/${ws.slug}`)
    expect(home.status).toBe(200)
    const text = await home.text()
    expect(text).toContain(o.email)
    expect(text).toContain(`<option value="${ws.slug}" selected>`)
  })

  test('a wrong password and an unknown email get the same 401 page and no cookie', async () => {
    const o = await owner()
    const wrong = await post('/dashboard/sign-in', { email: o.email, password: 'not the password' })
    const unknown = await post('/dashboard/sign-in', { email: 'nobody@agency.example', password: PASSWORD })
    const malformed = await post('/dashboard/sign-in', { email: 'nobody', password: PASSWORD })
    for (const res of [wrong, unknown, malformed]) {
      expect(res.status).toBe(401)
      expect(res.headers.get('set-cookie')).toBeNull()
      expect(await res.text()).toContain('Wrong email or password.')
    }
  })

  test(`failed passwords count against the address: after ${SIGN_IN_FAILURES_PER_WINDOW} the answer is 429, for the right password too, until a failure is forgiven`, async () => {
    const own = createHarness()
    try {
      await createOwner(own.deps, { email: 'limit@agency.example', password: PASSWORD })
      const attempt = (password: string) => post('/dashboard/sign-in', { email: 'limit@agency.example', password }, {}, own)
      for (let i = 0; i < SIGN_IN_FAILURES_PER_WINDOW; i++) expect((await attempt('wrong password!')).status).toBe(401)
      const refused = await attempt('wrong password!')
      expect(refused.status).toBe(429)
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
      // A key failure from the same address is refused alike: one budget.
      expect((await post('/dashboard/sign-in', { key: 'ask_sk_wrong' }, {}, own)).status).toBe(429)
      // The right password is not even checked now: a 303 would tell a guesser the guess was right.
      const right = await attempt(PASSWORD)
      expect(right.status).toBe(429)
      expect(right.headers.get('set-cookie')).toBeNull()
      own.clock.advance(SIGN_IN_WINDOW_MS / SIGN_IN_FAILURES_PER_WINDOW)
      expect((await attempt(PASSWORD)).status).toBe(303)
    } finally {
      own.close()
    }
  })

  test('a new password (askad operator password) ends the operator’s sessions; the new one signs in', async () => {
    const ws = await h.workspace()
    const o = await member(ws.id, 'viewer')
    expect((await o.get(`/dashboard/w/${ws.slug}`)).status).toBe(200)
    await resetPassword(h.deps, o.email, 'a brand new password')
    expect((await o.get(`/dashboard/w/${ws.slug}`)).status).toBe(303)
    expect((await post('/dashboard/sign-in', { email: o.email, password: PASSWORD })).status).toBe(401)
    expect((await post('/dashboard/sign-in', { email: o.email, password: 'a brand new password' })).status).toBe(303)
  })

  test('the sign-in page offers both: email and password, and a key', async () => {
    const page = await (await h.request('GET', '/dashboard/sign-in')).text()
    expect(page).toContain('name="email"')
    expect(page).toContain('name="password"')
    expect(page).toContain('name="key"')
  })
})

describe('workspaces in the URL', () => {
  test('old /dashboard/… paths redirect to the same page of the current workspace, keeping the query', async () => {
    const ws = await h.workspace()
    const keyCookie = (await post('/dashboard/sign-in', { key: ws.key })).headers.get('set-cookie')!.split(';')[0]!
    const old = await h.request('GET', '/dashboard/leads?source=crm', { headers: { cookie: keyCookie } })
    expect(old.status).toBe(303)
    expect(old.headers.get('location')).toBe(`/dashboard/w/${ws.slug}/leads?source=crm`)
    expect((await h.request('GET', '/dashboard', { headers: { cookie: keyCookie } })).headers.get('location')).toBe(`/dashboard/w/${ws.slug}`)
    // A form posted to an old path is sent on with its method and body (307).
    const form = await post('/dashboard/settings/api-keys', { kind: 'secret' }, { cookie: keyCookie })
    expect(form.status).toBe(403) // no CSRF token: refused before anything moves
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await (await h.request('GET', `/dashboard/w/${ws.slug}`, { headers: { cookie: keyCookie } })).text())![1]!
    const moved = await post('/dashboard/settings/api-keys', { _csrf: csrf, kind: 'secret' }, { cookie: keyCookie })
    expect(moved.status).toBe(307)
    expect(moved.headers.get('location')).toBe(`/dashboard/w/${ws.slug}/settings/api-keys`)
    // A key session opens its own workspace only.
    const other = await h.workspace()
    expect((await h.request('GET', `/dashboard/w/${other.slug}/leads`, { headers: { cookie: keyCookie } })).status).toBe(404)

    // An operator's current workspace is the one used last.
    const second = await h.workspace()
    const o = await owner()
    expect((await o.get(`/dashboard/w/${second.slug}/contacts`)).status).toBe(200)
    expect((await o.get('/dashboard/deals')).headers.get('location')).toBe(`/dashboard/w/${second.slug}/deals`)
    expect((await o.get(`/dashboard/w/${ws.slug}`)).status).toBe(200)
    expect((await o.get('/dashboard/deals')).headers.get('location')).toBe(`/dashboard/w/${ws.slug}/deals`)
  })

  test('the switcher lists only the operator’s workspaces and opens one by a GET form', async () => {
    const mine = await h.workspace()
    const v = await member(mine.id, 'viewer')
    const other = await h.workspace()
    const page = await (await v.get(`/dashboard/w/${mine.slug}`)).text()
    expect(page).toContain('action="/dashboard/switch"')
    expect(page).toContain(`value="${mine.slug}"`)
    expect(page).not.toContain(`value="${other.slug}"`)
    expect((await v.get(`/dashboard/switch?to=${mine.slug}`)).headers.get('location')).toBe(`/dashboard/w/${mine.slug}`)
  })

  test('a workspace the operator is not a member of is the same 404 as one that does not exist', async () => {
    const other = await h.workspace('secret-client')
    const mine = await h.workspace()
    const v = await member(mine.id, 'admin')
    const hidden = await v.get(`/dashboard/w/${other.slug}/contacts`)
    const missing = await v.get('/dashboard/w/no-such-client/contacts')
    expect(hidden.status).toBe(404)
    expect(missing.status).toBe(404)
    const text = await hidden.text()
    expect(text).not.toContain(other.id)
    expect(text.replace(other.slug, 'X')).toBe((await missing.text()).replace('no-such-client', 'X'))
    // Actions too: nothing is created there.
    expect((await v.send(`/dashboard/w/${other.slug}/settings/api-keys`, { kind: 'secret', name: 'sneak' })).status).toBe(404)
    expect(await h.rows.all('apiKeys', { workspaceId: other.id, name: 'sneak' })).toHaveLength(0)
  })

  test('an operator creates a workspace (and owns it), renames it, and deletes it only after typing its slug', async () => {
    const o = await owner()
    const bad = await o.send('/dashboard/workspaces', { slug: 'Not A Slug!' })
    expect(bad.status).toBe(422)
    const created = await o.send('/dashboard/workspaces', { slug: 'acme', name: 'Acme Inc.' })
    expect(created.status).toBe(303)
    expect(created.headers.get('location')).toBe('/dashboard/w/acme?done=created')
    const acme = (await h.rows.find('workspaces', { slug: 'acme' }))!
    expect(await h.rows.find('memberships', { workspaceId: acme.id, operatorId: o.operator.id })).toMatchObject({ role: 'owner' })
    expect((await o.send('/dashboard/workspaces', { slug: 'acme' })).status).toBe(409)

    expect((await o.send('/dashboard/w/acme/settings/workspace', { name: 'Acme Corp' })).status).toBe(303)
    expect((await h.rows.find('workspaces', { id: acme.id }))!.name).toBe('Acme Corp')
    expect((await o.send('/dashboard/w/acme/settings/workspace', { name: '   ' })).status).toBe(422)

    const settings = await (await o.get('/dashboard/w/acme/settings/workspace')).text()
    expect(settings).toContain('Everything in it goes')
    await h.key(acme.id, { name: 'goes too' })
    const unconfirmed = await o.send('/dashboard/w/acme/settings/workspace/delete', { confirm: 'acm' })
    expect(unconfirmed.status).toBe(422)
    expect(await h.rows.find('workspaces', { id: acme.id })).toBeDefined()
    const deleted = await o.send('/dashboard/w/acme/settings/workspace/delete', { confirm: 'acme' })
    expect(deleted.status).toBe(303)
    expect(deleted.headers.get('location')).toBe('/dashboard/workspaces?done=deleted')
    expect(await h.rows.find('workspaces', { id: acme.id })).toBeUndefined()
    expect(await h.rows.all('apiKeys', { workspaceId: acme.id })).toHaveLength(0)
    expect(await h.rows.all('memberships', { workspaceId: acme.id })).toHaveLength(0)
    expect((await o.get('/dashboard/w/acme')).status).toBe(404)
    // The operator is still signed in; the workspaces page says what happened.
    expect(await (await o.get('/dashboard/workspaces?done=deleted')).text()).toContain('Workspace deleted')
  })

  test('no slug may be another workspace’s id: names by slug or id (invites, key sessions, the CLI) would then find the wrong one', async () => {
    const victim = await h.workspace()
    const anyone = await member((await h.workspace()).id, 'viewer')
    const taken = await anyone.send('/dashboard/workspaces', { slug: victim.id, name: 'Look-alike' })
    expect(taken.status).toBe(422)
    expect(await h.rows.find('workspaces', { slug: victim.id })).toBeUndefined()
    expect(await findWorkspace(h.deps, victim.id)).toMatchObject({ id: victim.id, slug: victim.slug })
  })
})

describe('roles', () => {
  test('a viewer reads every page but creates no key or webhook, moves no deal, and sees no member actions', async () => {
    const ws = await h.workspace()
    const deal = await createDeal(h.deps, ws.id, { title: 'Stays put', value: '10.00', currency: 'EUR' })
    const v = await member(ws.id, 'viewer')
    const base = `/dashboard/w/${ws.slug}`
    for (const path of ['', '/contacts', '/leads', '/deals', '/embed', '/settings/members', '/settings/workspace'])
      expect((await v.get(`${base}${path}`)).status).toBe(200)
    expect((await v.get(`${base}/settings/api-keys`)).status).toBe(403)
    expect((await v.get(`${base}/settings/webhooks`)).status).toBe(403)
    const keysBefore = (await h.rows.all('apiKeys', { workspaceId: ws.id })).length
    expect((await v.send(`${base}/settings/api-keys`, { kind: 'secret', name: 'viewer key' })).status).toBe(403)
    expect(await h.rows.all('apiKeys', { workspaceId: ws.id })).toHaveLength(keysBefore)
    expect((await v.send(`${base}/settings/webhooks`, { url: 'http://127.0.0.1:9/hook' })).status).toBe(403)
    expect(await h.rows.all('webhookEndpoints', { workspaceId: ws.id })).toHaveLength(0)
    expect((await v.send(`${base}/deals/${deal.id}/stage`, { stage: 'won' })).status).toBe(403)
    expect((await h.rows.find('deals', { id: deal.id }))!.stage).toBe(deal.stage)
    const members = await (await v.get(`${base}/settings/members`)).text()
    expect(members).toContain(v.email)
    // The navigation offers only what the role may open.
    expect(members).toContain(`href="${base}/deals"`)
    expect(members).not.toContain(`href="${base}/settings/api-keys"`)
    expect(members).not.toContain(`href="${base}/settings/webhooks"`)
    expect(members).not.toContain('Create invite link')
    expect(members).not.toContain('/remove')
    expect((await v.send(`${base}/settings/invites`, { role: 'owner' })).status).toBe(403)
    expect(await h.rows.all('invites', { workspaceId: ws.id })).toHaveLength(0)
  })

  test('an admin creates keys (within the role’s scopes, no ceiling of a key) and webhooks, but manages no members and deletes nothing', async () => {
    const ws = await h.workspace()
    const a = await member(ws.id, 'admin')
    const base = `/dashboard/w/${ws.slug}`
    const created = await a.send(`${base}/settings/api-keys`, { kind: 'secret', name: 'from admin' })
    expect(created.status).toBe(201)
    const [key] = await h.rows.all('apiKeys', { workspaceId: ws.id, name: 'from admin' })
    expect(key!.scopes).toContain('keys:manage')
    expect(key!.rateLimit).toBeNull()
    expect(key!.expiresAt).toBeNull()
    expect((await a.send(`${base}/settings/webhooks`, { url: 'http://127.0.0.1:9/hook' })).status).toBe(201)

    const o = await member(ws.id, 'owner')
    expect((await a.send(`${base}/settings/members/${o.operator.id}/role`, { role: 'viewer' })).status).toBe(403)
    expect((await a.send(`${base}/settings/members/${o.operator.id}/remove`)).status).toBe(403)
    expect((await a.send(`${base}/settings/invites`, { role: 'admin' })).status).toBe(403)
    expect((await a.send(`${base}/settings/workspace`, { name: 'Renamed' })).status).toBe(403)
    expect((await a.send(`${base}/settings/workspace/delete`, { confirm: ws.slug })).status).toBe(403)
    expect(await h.rows.find('workspaces', { id: ws.id })).toMatchObject({ name: ws.slug })
    const settings = await (await a.get(`${base}/settings/workspace`)).text()
    expect(settings).not.toContain('Delete this workspace')
    expect(settings).toContain(`href="${base}/settings/api-keys"`)
  })

  test("an operator's key form speaks of the role's scopes and the instance's limit, not of a key they never signed in with", async () => {
    const ws = await h.workspace()
    const o = await member(ws.id, 'owner')
    const page = await (await o.get(`/dashboard/w/${ws.slug}/settings/api-keys`)).text()
    expect(page).toContain('none ticked = all scopes your role allows')
    expect(page).not.toContain('the key you signed in with')
    expect(page).not.toContain('of your key')
  })

  test('an owner changes roles and removes members (whose sessions lose the workspace at once); the last owner stays', async () => {
    const ws = await h.workspace()
    const o = await member(ws.id, 'owner')
    const v = await member(ws.id, 'viewer')
    const base = `/dashboard/w/${ws.slug}`
    const page = await (await o.get(`${base}/settings/members`)).text()
    expect(page).toContain('Create invite link')
    expect(page).toContain(`${base}/settings/members/${v.operator.id}/remove`)

    expect((await o.send(`${base}/settings/members/${v.operator.id}/role`, { role: 'admin' })).headers.get('location')).toBe(
      `${base}/settings/members?done=role`,
    )
    expect(await h.rows.find('memberships', { workspaceId: ws.id, operatorId: v.operator.id })).toMatchObject({ role: 'admin' })
    expect((await v.get(`${base}/settings/api-keys`)).status).toBe(200)
    expect((await o.send(`${base}/settings/members/${v.operator.id}/role`, { role: 'god' })).status).toBe(422)

    // The only owner can be neither demoted nor removed.
    const demote = await o.send(`${base}/settings/members/${o.operator.id}/role`, { role: 'admin' })
    expect(demote.status).toBe(409)
    expect(await demote.text()).toContain('at least one owner')
    expect((await o.send(`${base}/settings/members/${o.operator.id}/remove`)).status).toBe(409)
    expect(await h.rows.find('memberships', { workspaceId: ws.id, operatorId: o.operator.id })).toMatchObject({ role: 'owner' })

    expect((await o.send(`${base}/settings/members/${v.operator.id}/remove`)).status).toBe(303)
    expect((await v.get(`${base}/contacts`)).status).toBe(404)
    expect((await o.send(`${base}/settings/members/${v.operator.id}/remove`)).status).toBe(404)
  })
  test('an owner who removes themselves (another owner stays) lands on their workspaces, not on a 404', async () => {
    const ws = await h.workspace()
    const leaving = await member(ws.id, 'owner')
    await member(ws.id, 'owner')
    const res = await leaving.send(`/dashboard/w/${ws.slug}/settings/members/${leaving.operator.id}/remove`)
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/dashboard/workspaces')
    expect((await leaving.get('/dashboard/workspaces')).status).toBe(200)
    expect(await h.rows.find('memberships', { workspaceId: ws.id, operatorId: leaving.operator.id })).toBeUndefined()
  })
})

describe('invites', () => {
  test('a new person opens the link, creates an account and lands in the workspace with the invite’s role; the link then is dead', async () => {
    const ws = await h.workspace()
    const o = await member(ws.id, 'owner')
    const base = `/dashboard/w/${ws.slug}`
    const made = await o.send(`${base}/settings/invites`, { role: 'admin' })
    expect(made.status).toBe(201)
    const link = /(\/dashboard\/invite\/[\w-]+)/.exec(await made.text())![1]!
    const [stored] = await h.rows.all('invites', { workspaceId: ws.id })
    expect(link).not.toContain(stored!.hash)
    expect(await (await o.get(`${base}/settings/members`)).text()).toContain(`data-invite="${stored!.id}"`)

    const opened = await h.request('GET', link)
    expect(opened.status).toBe(200)
    expect(await opened.text()).toContain(`Join ${ws.slug}`)
    const email = nextEmail()
    const weak = await post(`${link}/join`, { email, password: 'short' })
    expect(weak.status).toBe(422)
    const joined = await post(`${link}/join`, { email, password: PASSWORD })
    expect(joined.status).toBe(303)
    expect(joined.headers.get('location')).toBe(`${base}?done=joined`)
    const cookie = joined.headers.get('set-cookie')!.split(';')[0]!
    expect((await h.request('GET', `${base}/settings/api-keys`, { headers: { cookie } })).status).toBe(200)
    const joiner = (await h.rows.find('operators', { email }))!
    expect(await h.rows.find('memberships', { workspaceId: ws.id, operatorId: joiner.id })).toMatchObject({ role: 'admin' })

    // Single use.
    expect((await h.request('GET', link)).status).toBe(404)
    expect((await post(`${link}/join`, { email: nextEmail(), password: PASSWORD })).status).toBe(404)
    expect(await h.rows.all('invites', { workspaceId: ws.id })).toHaveLength(0)
  })

  test('an existing operator signs in from the link and accepts; joining with a taken email asks to sign in instead', async () => {
    const ws = await h.workspace()
    const { token } = await createInvite(h.deps, ws.id, 'viewer')
    const link = `/dashboard/invite/${token}`
    const elsewhere = await h.workspace()
    const existing = await member(elsewhere.id, 'owner')
    const taken = await post(`${link}/join`, { email: existing.email, password: PASSWORD })
    expect(taken.status).toBe(409)
    expect(await taken.text()).toContain('sign in to accept')
    const anonymous = await (await h.request('GET', link)).text()
    expect(anonymous).toContain(`/dashboard/sign-in?next=${encodeURIComponent(link)}`)

    const page = await (await existing.get(link)).text()
    expect(page).toContain(`Signed in as ${existing.email}`)
    expect((await post(`${link}/accept`, {}, { cookie: existing.cookie })).status).toBe(403)
    const accepted = await existing.send(`${link}/accept`)
    expect(accepted.status).toBe(303)
    expect(accepted.headers.get('location')).toBe(`/dashboard/w/${ws.slug}?done=joined`)
    expect(await h.rows.find('memberships', { workspaceId: ws.id, operatorId: existing.operator.id })).toMatchObject({ role: 'viewer' })
    expect((await existing.send(`${link}/accept`)).status).toBe(404)
  })

  test('a member who opens and accepts a link of their own workspace (an owner trying it) changes nothing: it stays for whom it was meant', async () => {
    const ws = await h.workspace()
    const o = await member(ws.id, 'owner')
    const { token, invite } = await createInvite(h.deps, ws.id, 'viewer')
    const link = `/dashboard/invite/${token}`
    const accepted = await o.send(`${link}/accept`)
    expect(accepted.status).toBe(303)
    expect(accepted.headers.get('location')).toBe(`/dashboard/w/${ws.slug}`)
    expect(await h.rows.find('memberships', { workspaceId: ws.id, operatorId: o.operator.id })).toMatchObject({ role: 'owner' })
    expect(await h.rows.find('invites', { id: invite.id })).toBeDefined()
    expect(await h.rows.all('auditLog', { workspaceId: ws.id, action: 'member.joined', targetId: o.operator.id })).toHaveLength(1)
    const email = nextEmail()
    expect((await post(`${link}/join`, { email, password: PASSWORD })).status).toBe(303)
    const joiner = (await h.rows.find('operators', { email }))!
    expect(await h.rows.find('memberships', { workspaceId: ws.id, operatorId: joiner.id })).toMatchObject({ role: 'viewer' })
  })

  test('a link whose token does not decode is a dead link too, not an error', async () => {
    expect((await h.request('GET', '/dashboard/invite/%C0%AE')).status).toBe(404)
    expect((await post('/dashboard/invite/%C0%AE/join', { email: nextEmail(), password: PASSWORD })).status).toBe(404)
  })

  test('an expired or revoked invite is a dead link', async () => {
    const ws = await h.workspace()
    const { email } = await member(ws.id, 'owner')
    const expired = await createInvite(h.deps, ws.id, 'viewer')
    const revoked = await createInvite(h.deps, ws.id, 'admin')
    h.clock.advance(INVITE_TTL_MS / 2)
    // Days later: a fresh session (the first one idled out).
    const o = await operatorSignIn(email)
    const base = `/dashboard/w/${ws.slug}`
    expect((await o.send(`${base}/settings/invites/${revoked.invite.id}/revoke`)).headers.get('location')).toBe(`${base}/settings/members?done=uninvited`)
    expect((await h.request('GET', `/dashboard/invite/${revoked.token}`)).status).toBe(404)
    expect((await post(`/dashboard/invite/${revoked.token}/join`, { email: nextEmail(), password: PASSWORD })).status).toBe(404)
    expect((await o.send(`${base}/settings/invites/${revoked.invite.id}/revoke`)).status).toBe(404)

    expect((await h.request('GET', `/dashboard/invite/${expired.token}`)).status).toBe(200)
    h.clock.advance(INVITE_TTL_MS / 2)
    expect((await h.request('GET', `/dashboard/invite/${expired.token}`)).status).toBe(404)
    const late = nextEmail()
    expect((await post(`/dashboard/invite/${expired.token}/join`, { email: late, password: PASSWORD })).status).toBe(404)
    expect(await h.rows.find('operators', { email: late })).toBeUndefined()
    const again = await operatorSignIn(email)
    expect(await (await again.get(`${base}/settings/members`)).text()).toContain('<span class="badge bad">expired</span>')
  })
})

describe('a member who leaves', () => {
  test('takes along the keys minted for them (and by those keys) and the invites they made; keys of others stay', async () => {
    const ws = await h.workspace()
    const base = `/dashboard/w/${ws.slug}`
    const boss = await member(ws.id, 'owner')
    const leaver = await member(ws.id, 'owner')
    const made = await leaver.send(`${base}/settings/api-keys`, { kind: 'secret', name: 'leaver key' })
    expect(made.status).toBe(201)
    const theirKey = /id="new-key">(ask_sk_\w+)</.exec(await made.text())![1]!
    // A key minted through their key is theirs too.
    const child = await h.request('POST', '/api/v1/api-keys', { key: theirKey, body: { kind: 'secret', name: 'child of leaver key' } })
    expect(child.status).toBe(201)
    const childKey = (await child.json()).key as string
    const link = /(\/dashboard\/invite\/[\w-]+)/.exec(await (await leaver.send(`${base}/settings/invites`, { role: 'owner' })).text())![1]!
    const bossKey = /id="new-key">(ask_sk_\w+)</.exec(await (await boss.send(`${base}/settings/api-keys`, { kind: 'secret', name: 'boss key' })).text())![1]!
    for (const key of [theirKey, childKey, bossKey]) expect((await h.request('GET', '/api/v1/contacts', { key })).status).toBe(200)

    const removed = await boss.send(`${base}/settings/members/${leaver.operator.id}/remove`)
    expect(removed.status).toBe(303)
    for (const key of [theirKey, childKey]) expect((await h.request('GET', '/api/v1/contacts', { key })).status).toBe(401)
    expect((await h.request('GET', '/api/v1/contacts', { key: bossKey })).status).toBe(200)
    // Their invite cannot bring them (or anyone) back.
    expect((await h.request('GET', link)).status).toBe(404)
    expect(await h.rows.count('invites', { workspaceId: ws.id })).toBe(0)
    const revoked = await h.rows.all('auditLog', { workspaceId: ws.id, action: 'key.revoked' })
    expect(revoked.map((e) => e.targetId).sort()).toEqual(
      (await h.rows.all('apiKeys', { workspaceId: ws.id }))
        .filter((k) => k.revokedAt !== null)
        .map((k) => k.id)
        .sort(),
    )
    expect(revoked).toHaveLength(2)
    expect(await h.rows.count('auditLog', { workspaceId: ws.id, action: 'invite.revoked' })).toBe(1)
  })
})

describe('CSRF on the new forms', () => {
  test('every new state-changing form refuses a missing token or a foreign origin, and changes nothing', async () => {
    const ws = await h.workspace()
    const o = await member(ws.id, 'owner')
    const v = await member(ws.id, 'viewer')
    const invite = await createInvite(h.deps, ws.id, 'viewer')
    const base = `/dashboard/w/${ws.slug}`
    const forms: [string, Record<string, string>][] = [
      ['/dashboard/workspaces', { slug: 'csrf-made' }],
      [`${base}/settings/workspace`, { name: 'CSRF' }],
      [`${base}/settings/workspace/delete`, { confirm: ws.slug }],
      [`${base}/settings/members/${v.operator.id}/role`, { role: 'owner' }],
      [`${base}/settings/members/${v.operator.id}/remove`, {}],
      [`${base}/settings/invites`, { role: 'owner' }],
      [`${base}/settings/invites/${invite.invite.id}/revoke`, {}],
      [`/dashboard/invite/${invite.token}/accept`, {}],
    ]
    for (const [path, fields] of forms) {
      expect((await post(path, fields, { cookie: o.cookie })).status).toBe(403)
      expect((await post(path, { _csrf: 'x'.repeat(o.csrf.length), ...fields }, { cookie: o.cookie })).status).toBe(403)
      expect((await post(path, { _csrf: o.csrf, ...fields }, { cookie: o.cookie, origin: 'https://evil.example' })).status).toBe(403)
    }
    // Forms without a session (setup, joining by invite) are refused from another site.
    expect((await post(`/dashboard/invite/${invite.token}/join`, { email: nextEmail(), password: PASSWORD }, { origin: 'https://evil.example' })).status).toBe(
      403,
    )
    expect(await h.rows.find('workspaces', { slug: 'csrf-made' })).toBeUndefined()
    expect(await h.rows.find('workspaces', { id: ws.id })).toMatchObject({ name: ws.slug })
    expect(await h.rows.find('memberships', { workspaceId: ws.id, operatorId: v.operator.id })).toMatchObject({ role: 'viewer' })
    expect(await h.rows.all('invites', { workspaceId: ws.id })).toHaveLength(1)
  })
})

describe('audit log', () => {
  test('workspace, member and invite changes are recorded with the operator who made them', async () => {
    const o = await owner()
    expect((await o.send('/dashboard/workspaces', { slug: 'audited', name: 'Audited' })).status).toBe(303)
    const ws = (await h.rows.find('workspaces', { slug: 'audited' }))!
    const base = '/dashboard/w/audited'
    const link = /(\/dashboard\/invite\/[\w-]+)/.exec(await (await o.send(`${base}/settings/invites`, { role: 'viewer' })).text())![1]!
    const email = nextEmail()
    expect((await post(`${link}/join`, { email, password: PASSWORD })).status).toBe(303)
    const joiner = (await h.rows.find('operators', { email }))!
    expect((await o.send(`${base}/settings/members/${joiner.id}/role`, { role: 'admin' })).status).toBe(303)
    expect((await o.send(`${base}/settings/members/${joiner.id}/remove`)).status).toBe(303)
    const spare = await createInvite(h.deps, ws.id, 'admin')
    expect((await o.send(`${base}/settings/invites/${spare.invite.id}/revoke`)).status).toBe(303)
    expect((await o.send(`${base}/settings/workspace`, { name: 'Audited Inc.' })).status).toBe(303)
    expect((await o.send(`${base}/settings/workspace/delete`, { confirm: 'audited' })).status).toBe(303)

    const rows = await h.rows.all('auditLog', { workspaceId: ws.id })
    const by = (action: string) => rows.filter((r) => r.action === action)
    const mine = { actorType: 'operator', actorId: o.operator.id, actorLabel: o.email }
    expect(by('workspace.created')[0]).toMatchObject({ ...mine, details: { slug: 'audited', name: 'Audited' } })
    expect(by('member.invited')).toHaveLength(2)
    expect(by('member.invited')[0]).toMatchObject(mine)
    expect(by('member.joined')[0]).toMatchObject({
      actorType: 'operator',
      actorId: joiner.id,
      actorLabel: email,
      targetId: joiner.id,
      details: { role: 'viewer' },
    })
    expect(by('member.role_changed')[0]).toMatchObject({ ...mine, targetId: joiner.id, details: { from: 'viewer', to: 'admin' } })
    expect(by('member.removed')[0]).toMatchObject({ ...mine, targetId: joiner.id, details: { role: 'admin' } })
    expect(by('invite.revoked')[0]).toMatchObject({ ...mine, targetId: spare.invite.id })
    expect(by('workspace.renamed')[0]).toMatchObject({ ...mine, details: { from: 'Audited', to: 'Audited Inc.' } })
    // The record of the deletion outlives the workspace.
    expect(by('workspace.deleted')[0]).toMatchObject({ ...mine, details: { slug: 'audited', name: 'Audited Inc.' } })
    // A sign-in is kept for the account (no workspace), and is in the log of every workspace the operator could open then.
    const signIns = await h.rows.all('auditLog', { action: 'session.signed_in', actorId: o.operator.id })
    expect(signIns.length).toBeGreaterThan(0)
    expect(signIns.every((e) => e.actorType === 'operator' && e.actorLabel === o.email)).toBe(true)
    expect(signIns.filter((e) => e.workspaceId === null)).toHaveLength(1)
    const again = await operatorSignIn(o.email)
    const memberships = await h.rows.all('memberships', { operatorId: o.operator.id })
    expect(memberships.length).toBeGreaterThan(0)
    const latest = (await h.rows.all('auditLog', { action: 'session.signed_in', actorId: o.operator.id })).filter((e) => !signIns.some((s) => s.id === e.id))
    expect(new Set(latest.map((e) => e.workspaceId))).toEqual(new Set([null, ...memberships.map((m) => m.workspaceId)]))
    expect(again).toBeDefined()
  })
})

describe('first-run setup page', () => {
  test('works once, one form at a time, and closes when an operator exists by other means', async () => {
    const own = createHarness()
    try {
      const first = openSetupGate()
      own.deps.setupGate = first.gate
      const send = (email: string) => post('/dashboard/setup', { token: first.token, email, password: PASSWORD }, {}, own)
      expect((await own.request('GET', `/dashboard/setup?token=${first.token}`)).status).toBe(200)
      const [a, b] = await Promise.all([send('a@agency.example'), send('b@agency.example')])
      expect([a.status, b.status].sort()).toEqual([303, 404])
      expect(await own.rows.all('operators', {})).toHaveLength(1)
      expect((await own.request('GET', `/dashboard/setup?token=${first.token}`)).status).toBe(404)

      // A link printed at start stops working once `askad operator create` made someone.
      const second = openSetupGate()
      own.deps.setupGate = second.gate
      expect((await own.request('GET', `/dashboard/setup?token=${second.token}`)).status).toBe(404)
      expect((await post('/dashboard/setup', { token: second.token, email: 'c@agency.example', password: PASSWORD }, {}, own)).status).toBe(404)
      expect(await own.rows.all('operators', {})).toHaveLength(1)
    } finally {
      own.close()
    }
  })
})
