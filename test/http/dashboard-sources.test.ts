/**
 * Settings > Sources in the dashboard: creating one shows its URL once with the tool's setup steps, the URL
 * works, rotating and revoking (with confirmations) stop the old URL, errors are shown on the page, and a
 * viewer sees the list without any form.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createInvite, joinByInvite } from '../../src/modules/operators/service'
import { dashboardSession, form } from '../dashboard-session'
import { createHarness } from '../helpers'

// A viewer signs in with a password: argon2id is slow on purpose.
setDefaultTimeout(60_000)

const h = createHarness({ env: { ASKAD_RATE_LIMIT: '100/60s' } })
afterAll(() => h.close())

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** The one URL a page shows in full. */
function shownUrl(page: string): string {
  return /<code id="source-url">([^<]+)<\/code>/.exec(page)![1]!
}

/** Posts a lead to a source URL as a form. */
function deliver(url: string, email: string) {
  return h.request('POST', new URL(url).pathname, { rawBody: form({ email }), headers: FORM })
}

describe('the sources page', () => {
  test('creating a source shows its URL once with setup steps; the URL stores leads; the list shows only its prefix', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    const empty = await s.page('/dashboard/settings/sources')
    expect(empty).toContain('No sources yet.')
    expect(empty).toContain(`action="${s.base}/settings/sources"`)
    expect(empty).toContain(`href="${s.base}/settings/sources" aria-current="page"`)

    const created = await s.send('/dashboard/settings/sources', { name: 'Zap form', preset: 'zapier', signing_secret: 'zap-secret' })
    expect(created.status).toBe(201)
    expect(created.headers.get('cache-control')).toBe('no-store')
    const page = await created.text()
    const url = shownUrl(page)
    expect(url).toMatch(/^http:\/\/localhost\/api\/v1\/in\/src_\w{36}$/)
    expect(page).toContain('Webhooks by Zapier')
    expect(page).toContain('X-Askad-Secret')
    expect(page).toContain('data-copy="source-url"')

    expect((await deliver(url, 'unsigned@example.com')).status).toBe(401)
    const signed = await h.request('POST', new URL(url).pathname, {
      rawBody: form({ email: 'zap@example.com' }),
      headers: { ...FORM, 'x-askad-secret': 'zap-secret' },
    })
    expect(signed.status).toBe(201)

    const list = await s.page('/dashboard/settings/sources')
    expect(list).toContain('Zap form')
    expect(list).toContain(`${url.split('/').pop()!.slice(0, 8)}…`)
    expect(list).not.toContain(url.split('/').pop()!)
    const [entry] = await h.rows.all('auditLog', { workspaceId: ws.id, action: 'source.created' })
    expect(entry).toBeDefined()
  })

  test('a missing required field is shown on the page (422) and nothing is stored', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    const res = await s.send('/dashboard/settings/sources', { name: 'Bad', preset: 'generic', verify_token: 'not for generic' })
    expect(res.status).toBe(422)
    const page = await res.text()
    expect(page).toContain('/verify_token')
    expect(page).toContain('value="Bad"')
    expect(page).not.toContain('not for generic')
    expect(await h.rows.count('sources', { workspaceId: ws.id })).toBe(0)
    expect((await s.sendWithoutCsrf('/dashboard/settings/sources', { name: 'x', preset: 'generic' })).status).toBe(403)
    expect(await h.rows.count('sources', { workspaceId: ws.id })).toBe(0)
  })

  test('rotate shows a new URL and stops the old one; revoke (confirmed) stops the URL', async () => {
    const ws = await h.workspace()
    const s = await dashboardSession(h, ws.key)
    const first = shownUrl(await (await s.send('/dashboard/settings/sources', { name: 'Rotating', preset: 'generic' })).text())
    const { id } = (await h.rows.find('sources', { workspaceId: ws.id }))!
    const list = await s.page('/dashboard/settings/sources')
    expect(list).toContain(`action="${s.base}/settings/sources/${id}/rotate"`)
    expect(list).toContain('data-confirm="Replace the URL of “Rotating”?')
    expect(list).toContain('data-confirm="Revoke “Rotating”?')

    const rotated = await s.send(`/dashboard/settings/sources/${id}/rotate`)
    expect(rotated.status).toBe(200)
    const second = shownUrl(await rotated.text())
    expect(second).not.toBe(first)
    expect((await deliver(first, 'old@example.com')).status).toBe(401)
    expect((await deliver(second, 'new@example.com')).status).toBe(201)

    const revoked = await s.send(`/dashboard/settings/sources/${id}/revoke`)
    expect(revoked.status).toBe(303)
    expect(revoked.headers.get('location')).toBe(`${s.base}/settings/sources?done=source_revoked`)
    expect((await deliver(second, 'late@example.com')).status).toBe(401)
    const after = await s.page('/dashboard/settings/sources?done=source_revoked')
    expect(after).toContain('Source revoked')
    expect(after).toContain('revoked</span>')
    expect(after).not.toContain(`${id}/rotate`)
  })

  test('a viewer sees the list without forms and cannot create, rotate or revoke', async () => {
    const ws = await h.workspace()
    const admin = await dashboardSession(h, ws.key)
    await admin.send('/dashboard/settings/sources', { name: 'Seen', preset: 'typeform', signing_secret: 'tf' })
    const { id } = (await h.rows.find('sources', { workspaceId: ws.id }))!

    const email = `viewer-${crypto.randomUUID().slice(0, 8)}@agency.example`
    const { token } = await createInvite(h.deps, ws.id, 'viewer')
    await joinByInvite(h.deps, token, { email, password: 'correct horse battery' })
    const signIn = await h.request('POST', '/dashboard/sign-in', {
      rawBody: form({ email, password: 'correct horse battery', next: '/dashboard' }),
      headers: { ...FORM, origin: 'http://localhost' },
    })
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!
    const base = `/dashboard/w/${ws.slug}`
    const page = await (await h.request('GET', `${base}/settings/sources`, { headers: { cookie } })).text()
    expect(page).toContain('Seen')
    expect(page).not.toContain('Create a source')
    expect(page).not.toContain(`${id}/revoke`)
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!
    const post = (path: string, fields: Record<string, string> = {}) =>
      h.request('POST', `${base}${path}`, { rawBody: form({ _csrf: csrf, ...fields }), headers: { ...FORM, origin: 'http://localhost', cookie } })
    expect((await post('/settings/sources', { name: 'viewer', preset: 'generic' })).status).toBe(403)
    expect((await post(`/settings/sources/${id}/rotate`)).status).toBe(403)
    expect((await post(`/settings/sources/${id}/revoke`)).status).toBe(403)
    expect(await h.rows.count('sources', { workspaceId: ws.id })).toBe(1)
    expect((await h.rows.find('sources', { id }))!.revokedAt).toBeNull()
  })
})
