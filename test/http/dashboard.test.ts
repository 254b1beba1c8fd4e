/**
 * The dashboard through app.handle: sign-in and its limits, the session cookie, CSRF and origin
 * checks, session expiry on the test clock, every page, and the one-time views of keys and secrets.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { hashToken, SESSION_IDLE_MS, SESSION_MAX_MS } from '../../src/modules/sessions/service'
import { SIGN_IN_FAILURES_PER_WINDOW, SIGN_IN_WINDOW_MS } from '../../src/dashboard/guard'
import { createLead } from '../../src/modules/leads/service'
import { createDeal } from '../../src/modules/deals/service'
import { createEndpoint } from '../../src/modules/webhooks/service'
import { createHarness, testClock, type Harness } from '../helpers'
import { loadConfig } from '../../src/config'
import { createRateLimitStore } from '../../src/lib/rate-limit-store'
import { createLogger } from '../../src/lib/logger'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ORIGIN = 'http://localhost'
const HOUR = 60 * 60 * 1000

const h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
afterAll(() => h.close())

const form = (fields: Record<string, string | string[]>) => {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) params.append(k, one)
  return params
}

async function post(path: string, fields: Record<string, string | string[]>, headers: Record<string, string> = {}) {
  return h.request('POST', path, { rawBody: form(fields), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, ...headers } })
}

/** Signs in and returns the cookie pair, the raw token and a way to fetch pages as that session. */
async function signIn(key: string, harness: Harness = h) {
  const res = await harness.request('POST', '/dashboard/sign-in', {
    rawBody: form({ key, next: '/dashboard' }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
  })
  expect(res.status).toBe(303)
  const setCookie = res.headers.get('set-cookie')!
  const cookie = setCookie.split(';')[0]!
  const token = cookie.split('=')[1]!
  const raw = (path: string) => harness.request('GET', path, { headers: { cookie } })
  // The workspace's pages live under /dashboard/w/<slug>; /dashboard itself redirects there.
  const base = (await raw('/dashboard')).headers.get('location')!
  /** The path of a page under the workspace: `/dashboard/leads` is `/dashboard/w/<slug>/leads`. */
  const at = (path: string) => (path.startsWith('/dashboard/w/') || path.startsWith('/dashboard/sign') ? path : `${base}${path.replace(/^\/dashboard/, '')}`)
  const get = (path: string) => raw(at(path))
  const page = async (path: string) => {
    const r = await get(at(path))
    expect(r.status).toBe(200)
    return r.text()
  }
  const csrf = async () => /name="_csrf" value="([^"]+)"/.exec(await page('/dashboard'))![1]!
  const send = async (path: string, fields: Record<string, string | string[]> = {}, headers: Record<string, string> = {}) =>
    post(at(path), { _csrf: await csrf(), ...fields }, { cookie, ...headers })
  return { res, setCookie, cookie, token, get, page, csrf, send, base, at }
}

describe('sign-in', () => {
  test('a secret key with keys:manage opens a session: HttpOnly, SameSite=Strict cookie; only its SHA-256 is stored', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    expect(s.res.headers.get('location')).toBe('/dashboard')
    expect(s.setCookie).toMatch(/^askad_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/)
    const rows = await h.rows.all('sessions', { workspaceId: ws.id })
    expect(rows).toHaveLength(1)
    expect(rows[0]!.hash).toBe(hashToken(s.token))
    expect(JSON.stringify(rows)).not.toContain(s.token)
    expect(await s.page('/dashboard')).toContain(ws.slug)
  })

  test('behind a TLS-terminating proxy (X-Forwarded-Proto: https) the cookie is Secure', async () => {
    const ws = await h.workspace()
    const res = await h.request('POST', '/dashboard/sign-in', {
      rawBody: form({ key: ws.key, next: '/dashboard' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, 'x-forwarded-proto': 'https' },
    })
    expect(res.status).toBe(303)
    expect(res.headers.get('set-cookie')).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/)
  })

  test('the sign-in page itself asks for a key and sets no cookie', async () => {
    const res = await h.request('GET', '/dashboard/sign-in')
    expect(res.status).toBe(200)
    expect(res.headers.get('set-cookie')).toBeNull()
    expect(await res.text()).toContain('name="key" type="password"')
  })

  test('pages redirect to sign-in without a session, and / leads to the dashboard', async () => {
    const res = await h.request('GET', '/dashboard/leads?source=x')
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/dashboard/sign-in?next=%2Fdashboard%2Fleads%3Fsource%3Dx')
    expect((await h.request('GET', '/')).headers.get('location')).toBe('/dashboard')
  })

  test('wrong keys get a clear message, 401, and no cookie', async () => {
    // A harness of its own, so these failures do not use up the address's sign-in budget here.
    const own = createHarness()
    try {
      const ws = await own.workspace()
      const publishable = (await own.key(ws.id, { kind: 'publishable', allowedOrigins: ['https://a.example'] })).key
      const readOnly = (await own.key(ws.id, { scopes: ['leads:read'] })).key
      const revoked = await own.key(ws.id)
      await own.rows.update('apiKeys', { id: revoked.id }, { revokedAt: own.clock.now() })
      const unknown = (await h.workspace()).key
      const cases: [string, string][] = [
        ['', 'Enter a secret API key.'],
        ['not-a-key', 'That is not an askad key'],
        [ws.key.slice(0, -1) + (ws.key.endsWith('A') ? 'B' : 'A'), 'That is not an askad key'],
        [unknown, 'This key is not valid.'],
        [publishable, 'Publishable keys (ask_pk_…) cannot sign in'],
        [readOnly, 'lacks the keys:manage scope'],
        [revoked.key, 'This key has been revoked.'],
      ]
      for (const [key, message] of cases) {
        const res = await own.request('POST', '/dashboard/sign-in', {
          rawBody: form({ key }),
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
        })
        expect(res.status).toBe(401)
        expect(res.headers.get('set-cookie')).toBeNull()
        expect(await res.text()).toContain(message)
      }
      expect(await own.rows.count('sessions')).toBe(0)
    } finally {
      own.close()
    }
  })

  test('the failed sign-in budget is shared by every node on a shared rate-limit store, not counted per process', async () => {
    // Two apps on one store, as two nodes on Redis or PostgreSQL: failures on either count against the one address.
    const shared = createRateLimitStore(loadConfig({ db: 'unused.db' }, {}), testClock(), { logger: createLogger('error', () => {}) })
    const nodes = [createHarness({ rateLimitStore: () => shared }), createHarness({ rateLimitStore: () => shared })]
    try {
      const attempt = (node: Harness) =>
        node.request('POST', '/dashboard/sign-in', {
          rawBody: form({ key: 'ask_sk_wrong' }),
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
        })
      for (let i = 0; i < SIGN_IN_FAILURES_PER_WINDOW; i++) expect((await attempt(nodes[i % 2]!)).status).toBe(401)
      for (const node of nodes) expect((await attempt(node)).status).toBe(429)
    } finally {
      for (const node of nodes) await node.close()
    }
  })

  test(`after ${SIGN_IN_FAILURES_PER_WINDOW} failures from one address further failures wait (429, Retry-After), the right key does not`, async () => {
    const own = createHarness()
    try {
      const ws = await own.workspace()
      const attempt = (key: string) =>
        own.request('POST', '/dashboard/sign-in', { rawBody: form({ key }), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN } })
      for (let i = 0; i < SIGN_IN_FAILURES_PER_WINDOW; i++) expect((await attempt('ask_sk_wrong')).status).toBe(401)
      const refused = await attempt('ask_sk_wrong')
      expect(refused.status).toBe(429)
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(await refused.text()).toContain('Too many failed sign-ins')
      // A colleague behind the same NAT, with the right key, is not locked out.
      expect((await attempt(ws.key)).status).toBe(303)
      own.clock.advance(SIGN_IN_WINDOW_MS / SIGN_IN_FAILURES_PER_WINDOW)
      expect((await attempt('ask_sk_wrong')).status).toBe(401)
    } finally {
      own.close()
    }
  })

  test('a sign-in posted from another site is refused (login CSRF)', async () => {
    const ws = await h.workspace()
    const res = await h.request('POST', '/dashboard/sign-in', {
      rawBody: form({ key: ws.key }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
    })
    expect(res.status).toBe(403)
    expect(res.headers.get('set-cookie')).toBeNull()
  })

  test('next= only leads inside the dashboard', async () => {
    const ws = await h.workspace()
    for (const [next, expected] of [
      ['/dashboard/deals', '/dashboard/deals'],
      ['https://evil.example/', '/dashboard'],
      ['//evil.example', '/dashboard'],
      ['/dashboardx', '/dashboard'],
      // A line break cannot go into a header: such a next is no path (not a 500).
      ['/dashboard/\r\nx-injected: 1', '/dashboard'],
      ['/dashboard/\u0000', '/dashboard'],
    ]) {
      const res = await post('/dashboard/sign-in', { key: ws.key, next: next! })
      expect(res.status).toBe(303)
      expect(res.headers.get('location')).toBe(expected!)
    }
    // The sign-in page of a session goes straight on to next, from the query.
    const signedIn = await post('/dashboard/sign-in', { key: ws.key })
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0]!
    const again = await h.request('GET', '/dashboard/sign-in?next=%2Fdashboard%2F%0D%0Ax-injected%3A%201', { headers: { cookie } })
    expect(again.status).toBe(303)
    expect(again.headers.get('location')).toBe('/dashboard')
  })
})

describe('sessions', () => {
  test('end after 12 h idle; each use moves the idle deadline', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    h.clock.advance(SESSION_IDLE_MS - HOUR)
    expect((await s.get('/dashboard')).status).toBe(200)
    h.clock.advance(SESSION_IDLE_MS - HOUR)
    expect((await s.get('/dashboard')).status).toBe(200)
    h.clock.advance(SESSION_IDLE_MS)
    const res = await s.get('/dashboard')
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toStartWith('/dashboard/sign-in')
    expect(res.headers.get('set-cookie')).toContain('Max-Age=0')
    expect(await h.rows.find('sessions', { hash: hashToken(s.token) })).toBeUndefined()
  })

  test('end 7 days after sign-in however busy', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    const start = h.clock.now()
    while (h.clock.now() + 6 * HOUR < start + SESSION_MAX_MS) {
      h.clock.advance(6 * HOUR)
      expect((await s.get('/dashboard/leads')).status).toBe(200)
    }
    h.clock.set(start + SESSION_MAX_MS)
    expect((await s.get('/dashboard/leads')).status).toBe(303)
  })

  test('sign-out deletes the session; the old cookie no longer works', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    const res = await s.send('/dashboard/sign-out')
    expect(res.status).toBe(303)
    expect(res.headers.get('set-cookie')).toContain('askad_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0')
    expect(await h.rows.find('sessions', { hash: hashToken(s.token) })).toBeUndefined()
    expect((await s.get('/dashboard')).status).toBe(303)
  })

  test('revoking the key a session signed in with ends that session', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    const res = await s.send(`/dashboard/settings/api-keys/${ws.keyId}/revoke`)
    expect(res.status).toBe(303)
    expect((await s.get('/dashboard')).status).toBe(303)
  })

  test("a foreign workspace's ids are 404 pages", async () => {
    const mine = await signIn((await h.workspace()).key)
    const other = await h.workspace()
    const lead = await createLead(h.deps, other.id, 'inbound', { email: 'other@example.com', source: 'api', metadata: {} })
    expect((await mine.get(`/dashboard/contacts/${lead.contactId}`)).status).toBe(404)
    const revoke = await mine.send(`/dashboard/settings/api-keys/${other.keyId}/revoke`)
    expect(revoke.status).toBe(404)
    expect((await h.rows.find('apiKeys', { id: other.keyId }))!.revokedAt).toBeNull()
  })
})

describe('CSRF', () => {
  test('state changes need the session CSRF token and a same-origin request', async () => {
    const ws = await h.workspace()
    const victim = await h.key(ws.id, { name: 'victim' })
    const s = await signIn(ws.key)
    const path = s.at(`/dashboard/settings/api-keys/${victim.id}/revoke`)
    const csrf = await s.csrf()
    const refusals = [
      await post(path, {}, { cookie: s.cookie }),
      await post(path, { _csrf: 'x'.repeat(csrf.length) }, { cookie: s.cookie }),
      await post(path, { _csrf: csrf }, { cookie: s.cookie, origin: 'https://evil.example' }),
      await post(path, { _csrf: csrf }, { cookie: s.cookie, origin: 'null' }),
      await post(path, { _csrf: csrf }, { cookie: s.cookie, origin: '', 'sec-fetch-site': 'cross-site' }),
    ]
    for (const res of refusals) expect(res.status).toBe(403)
    expect((await h.rows.find('apiKeys', { id: victim.id }))!.revokedAt).toBeNull()

    const other = await signIn(ws.key)
    expect((await post(path, { _csrf: await other.csrf() }, { cookie: s.cookie })).status).toBe(403)

    const ok = await post(path, { _csrf: csrf }, { cookie: s.cookie })
    expect(ok.status).toBe(303)
    expect((await h.rows.find('apiKeys', { id: victim.id }))!.revokedAt).toBe(h.clock.now())
  })

  test('a POST without a session does nothing', async () => {
    const ws = await h.workspace()
    const victim = await h.key(ws.id)
    const res = await post(`/dashboard/settings/api-keys/${victim.id}/revoke`, { _csrf: 'anything' })
    expect(res.status).toBe(401)
    expect((await h.rows.find('apiKeys', { id: victim.id }))!.revokedAt).toBeNull()
  })
})

describe('pages', () => {
  test('overview: leads per day chart, counts by source, newest leads; data is escaped', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    const now = h.clock.now()
    h.clock.set(now - 3 * 24 * HOUR)
    await createLead(h.deps, ws.id, 'inbound', { email: 'old@example.com', source: 'crm', metadata: {} })
    h.clock.set(now)
    await createLead(h.deps, ws.id, 'inbound', { email: 'a@example.com', firstName: '<script>alert(1)</script>', source: 'crm', metadata: {} })
    await createLead(h.deps, ws.id, 'capture', { email: 'b@example.com', source: 'website', metadata: {} })
    const html = await s.page('/dashboard')
    expect(html).toContain('aria-label="Leads per day, last 30 days: 3 in all"')
    expect((html.match(/<rect /g) ?? []).length).toBe(30)
    const today = new Date(now).toISOString().slice(0, 10)
    const threeDaysAgo = new Date(now - 3 * 24 * HOUR).toISOString().slice(0, 10)
    expect(html).toContain(`<title>${today}: 2</title>`)
    expect(html).toContain(`<title>${threeDaysAgo}: 1</title>`)
    expect(html).toMatch(/source=crm">crm<\/a><\/td><td class="num">2</)
    expect(html).toMatch(/source=website">website<\/a><\/td><td class="num">1</)
    expect(html).not.toContain('<script>alert(1)</script>')
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html.indexOf('b@example.com')).toBeLessThan(html.indexOf('a@example.com'))
  })

  test('the chart counts only the last 30 days', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    const now = h.clock.now()
    h.clock.set(now - 31 * 24 * HOUR)
    await createLead(h.deps, ws.id, 'inbound', { email: 'ancient@example.com', source: 'crm', metadata: {} })
    h.clock.set(now)
    await createLead(h.deps, ws.id, 'inbound', { email: 'fresh@example.com', source: 'crm', metadata: {} })
    const html = await s.page('/dashboard')
    expect(html).toContain('last 30 days: 1 in all')
    expect(html).toMatch(/<span class="n">2<\/span> leads/)
  })

  test('contacts: search by email and source, pages, and a contact with its leads and deals', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    for (let i = 0; i < 55; i++) await createLead(h.deps, ws.id, 'inbound', { email: `p${i}@example.com`, source: i % 2 ? 'odd' : 'even', metadata: {} })
    const again = await createLead(h.deps, ws.id, 'inbound', { email: 'P7@example.com', firstName: 'Peter', source: 'crm', metadata: { plan: 'pro' } })
    await createDeal(h.deps, ws.id, { title: 'Peter deal', value: '12.50', currency: 'EUR', contactId: again.contactId })

    const first = await s.page('/dashboard/contacts')
    expect(first).toContain('Page 1 of 2 · 55 in all')
    expect(first).toContain(`href="${s.base}/contacts?page=2"`)
    expect(await s.page('/dashboard/contacts?page=2')).toContain('Page 2 of 2')

    const found = await s.page('/dashboard/contacts?email=p7%40example.com')
    expect(found).toContain('1 in all')
    expect(found).toContain(`${s.base}/contacts/${again.contactId}`)
    expect(await s.page('/dashboard/contacts?source=odd')).toContain('27 in all')

    const contact = await s.page(`/dashboard/contacts/${again.contactId}`)
    expect(contact).toContain('<h1>Peter</h1>')
    expect(contact).toContain('Peter deal')
    expect(contact).toContain('12.50 EUR')
    expect(contact).toContain('&quot;plan&quot;: &quot;pro&quot;')
    expect((contact.match(/<tr>\s*<td><time/g) ?? []).length).toBe(2)
  })

  test('leads: filter by source and status; bad input is a page with a message, not a 500', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    await createLead(h.deps, ws.id, 'inbound', { email: 'x@example.com', source: 'crm', metadata: {} })
    await createLead(h.deps, ws.id, 'capture', { email: 'y@example.com', source: 'website', metadata: {} })
    const crm = await s.page('/dashboard/leads?source=crm')
    expect(crm).toContain('x@example.com')
    expect(crm).not.toContain('y@example.com')
    expect(await s.page('/dashboard/leads?status=converted')).toContain('No leads match.')
    const bad = await s.get('/dashboard/leads?page=0')
    expect(bad.status).toBe(422)
    expect(await bad.text()).toContain('must be between 1 and')
  })

  test('deals: a board by stage; moving to won goes through the deals service and emits deal.closed once', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    const deal = await createDeal(h.deps, ws.id, { title: 'Big one', value: 1000, currency: 'USD', stage: 'negotiation' })
    const board = await s.page('/dashboard/deals')
    expect(board).toMatch(/negotiation <span class="count">1<\/span>/)
    expect(board).toContain('Big one')

    const closedEvents = () => h.rows.all('events', { workspaceId: ws.id, type: 'deal.closed' })
    expect((await s.send(`/dashboard/deals/${deal.id}/stage`, { stage: 'won' })).headers.get('location')).toBe(`${s.base}/deals?done=moved`)
    expect((await s.send(`/dashboard/deals/${deal.id}/stage`, { stage: 'won' })).status).toBe(303)
    const closed = await closedEvents()
    expect(closed).toHaveLength(1)
    expect(JSON.parse(closed[0]!.payload).data).toMatchObject({ deal: { id: deal.id, stage: 'won' }, previous_stage: 'negotiation' })
    expect(await s.page('/dashboard/deals?done=moved')).toContain('Deal moved.')
    expect(await s.page('/dashboard/deals?done=toString')).not.toContain('notice')

    const bad = await s.send(`/dashboard/deals/${deal.id}/stage`, { stage: 'archived' })
    expect(bad.status).toBe(422)
    expect(await bad.text()).toContain('is not a deal stage')
  })

  test('every page answers HTML with a strict CSP and no-store; the API docs do not list dashboard routes', async () => {
    const s = await signIn((await h.workspace()).key)
    for (const path of [
      '/dashboard',
      '/dashboard/contacts',
      '/dashboard/leads',
      '/dashboard/deals',
      '/dashboard/settings/api-keys',
      '/dashboard/settings/webhooks',
      '/dashboard/embed',
    ]) {
      const res = await s.get(path)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'")
      expect(res.headers.get('x-frame-options')).toBe('DENY')
    }
    expect((await s.get('/dashboard/nowhere')).status).toBe(404)
    const css = await h.request('GET', '/dashboard/assets/dashboard.css')
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8')
    expect(await css.text()).not.toMatch(/url\(|@import/)
    const js = await h.request('GET', '/dashboard/assets/dashboard.js')
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const doc = await (await h.request('GET', '/openapi.json')).json()
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/dashboard'))).toBe(false)
  })
})

describe('Settings > API keys', () => {
  test('creates a publishable key, shows it once with the embed snippets, never again; revokes it', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    const res = await s.send('/dashboard/settings/api-keys', {
      kind: 'publishable',
      name: 'Landing page',
      allowed_origins: 'https://www.example.com\nhttps://shop.example.com',
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const created = await res.text()
    const key = /<code id="new-key">(ask_pk_[A-Za-z0-9]+)<\/code>/.exec(created)![1]!
    expect(created).toContain('data-copy="new-key"')
    expect(created).toContain(`/api/v1/leads/capture?key=${key}`)
    const row = (await h.rows.find('apiKeys', { name: 'Landing page' }))!
    expect([row.kind, row.workspaceId, row.scopes, row.allowedOrigins]).toEqual([
      'publishable',
      ws.id,
      ['leads:capture'],
      ['https://www.example.com', 'https://shop.example.com'],
    ])

    const pages = [
      '/dashboard',
      '/dashboard/contacts',
      '/dashboard/leads',
      '/dashboard/deals',
      '/dashboard/settings/api-keys',
      '/dashboard/settings/webhooks',
      '/dashboard/embed',
    ]
    for (const path of pages) {
      const html = await s.page(path)
      expect(html).not.toContain(key)
      expect(html).not.toContain(ws.key)
      expect(html).not.toContain(s.token)
    }
    const list = await s.page('/dashboard/settings/api-keys')
    expect(list).toContain(`${row.prefix}…`)

    expect((await s.send(`/dashboard/settings/api-keys/${row.id}/revoke`)).headers.get('location')).toBe(`${s.base}/settings/api-keys?done=revoked`)
    expect((await h.rows.find('apiKeys', { id: row.id }))!.revokedAt).toBe(h.clock.now())
    const after = await s.page('/dashboard/settings/api-keys?done=revoked')
    expect(after).toContain('Key revoked')
    expect(after).toContain('<span class="badge bad">revoked</span>')
  })

  test('a secret key gets the ticked scopes; the service refuses what the session key cannot grant, keeping the form', async () => {
    const ws = await h.workspace('keys-scoped', { scopes: ['keys:manage', 'leads:read'] })
    const s = await signIn(ws.key)
    const ok = await s.send('/dashboard/settings/api-keys', { kind: 'secret', name: 'Reader', scopes: ['leads:read'] })
    expect(ok.status).toBe(201)
    expect((await h.rows.find('apiKeys', { name: 'Reader' }))!.scopes).toEqual(['leads:read'])

    const refused = await s.send('/dashboard/settings/api-keys', { kind: 'secret', name: 'Writer', scopes: ['leads:write'] })
    expect(refused.status).toBe(403)
    const html = await refused.text()
    expect(html).toContain('cannot grant scopes it does not hold itself: leads:write')
    expect(html).toContain('value="Writer"')
    expect(html).not.toMatch(/id="new-key"/)

    const full = await signIn((await h.workspace()).key)
    const noOrigins = await full.send('/dashboard/settings/api-keys', { kind: 'publishable', name: 'Form', allowed_origins: '' })
    expect(noOrigins.status).toBe(422)
    expect(await noOrigins.text()).toContain('at least one allowed origin')
  })
})

describe('Settings > Webhooks', () => {
  test('creating one endpoint more than ASKAD_WEBHOOK_MAX_ENDPOINTS allows shows the limit', async () => {
    const ws = await h.workspace()
    for (let i = 0; i < h.deps.config.webhookMaxEndpoints; i++) await createEndpoint(h.deps, ws.id, { url: `http://127.0.0.1:9/${i}` })
    const s = await signIn(ws.key)
    const refused = await s.send('/dashboard/settings/webhooks', { url: 'http://127.0.0.1:9/one-more' })
    expect(refused.status).toBe(422)
    expect(await refused.text()).toContain('at most 20 webhook endpoints')
  })

  test('create (secret shown once), test, disable/enable, rotate, retry, recover, delivery log', async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    const blocked = await s.send('/dashboard/settings/webhooks', { url: 'http://10.1.2.3/hook' })
    expect(blocked.status).toBe(422)
    expect(await blocked.text()).toContain('value="http://10.1.2.3/hook"')

    const res = await s.send('/dashboard/settings/webhooks', { url: 'http://127.0.0.1:9/hook', description: 'CRM', events: ['lead.created', 'deal.closed'] })
    expect(res.status).toBe(201)
    const created = await res.text()
    const secret = /<code id="new-secret">(whsec_[A-Za-z0-9+/=]+)<\/code>/.exec(created)![1]!
    const endpoint = (await h.rows.find('webhookEndpoints', { workspaceId: ws.id }))!
    expect([endpoint.secret, endpoint.events, endpoint.description]).toEqual([secret, ['lead.created', 'deal.closed'], 'CRM'])
    const base = s.at(`/dashboard/settings/webhooks/${endpoint.id}`)

    const list = await s.page('/dashboard/settings/webhooks')
    expect(list).toContain('no deliveries yet')
    expect(list).not.toContain(secret)

    await createLead(h.deps, ws.id, 'inbound', { email: 'hook@example.com', source: 'crm', metadata: {} })
    expect((await s.send(`${base}/test`)).headers.get('location')).toBe(`${base}?done=test`)
    let page = await s.page(`${base}?done=test`)
    expect(page).toContain('Test event queued.')
    expect(page).toContain('data-event-type="lead.created"')
    expect(page).toContain('data-event-type="webhook.test"')
    expect(page).not.toContain(secret)

    // The lead's delivery (the first one queued), found by its event since rows come in no set order.
    const leadEvent = (await h.rows.find('events', { workspaceId: ws.id, type: 'lead.created' }))!
    const delivery = (await h.rows.find('webhookDeliveries', { endpointId: endpoint.id, eventId: leadEvent.id }))!
    await h.rows.update('webhookDeliveries', { endpointId: endpoint.id }, { status: 'failed', nextAttemptAt: null })
    expect((await s.send(`${base}/deliveries/${delivery.id}/retry`)).status).toBe(303)
    expect(await h.rows.find('webhookDeliveries', { id: delivery.id })).toMatchObject({ status: 'pending', manual: true })
    const since = new Date(h.clock.now() - HOUR).toISOString().slice(0, 16)
    expect((await s.send(`${base}/recover`, { since })).headers.get('location')).toBe(`${base}?done=recovered`)
    expect((await h.rows.all('webhookDeliveries', { endpointId: endpoint.id })).map((d) => d.status)).toEqual(['pending', 'pending'])

    expect((await s.send(`${base}/disable`)).status).toBe(303)
    expect((await h.rows.find('webhookEndpoints', { id: endpoint.id }))!.enabled).toBe(false)
    page = await s.page(base)
    expect(page).toContain('>disabled</span>')
    expect(page).toContain(`${base}/enable`)
    expect((await s.send(`${base}/test`)).status).toBe(409)
    expect((await s.send(`${base}/enable`)).status).toBe(303)
    expect((await h.rows.find('webhookEndpoints', { id: endpoint.id }))!.enabled).toBe(true)

    const rotated = await s.send(`${base}/rotate`)
    const newSecret = /<code id="new-secret">(whsec_[^<]+)<\/code>/.exec(await rotated.text())![1]!
    const after = (await h.rows.find('webhookEndpoints', { id: endpoint.id }))!
    expect([after.secret, after.previousSecret]).toEqual([newSecret, secret])
    const final = await s.page(base)
    expect(final).not.toContain(newSecret)
    expect(final).not.toContain(secret)
  })
})

describe('Embed', () => {
  test("shows a form and a fetch snippet with a placeholder key and this server's address", async () => {
    const ws = await h.workspace()
    const s = await signIn(ws.key)
    await h.key(ws.id, { kind: 'publishable', allowedOrigins: ['https://www.example.com'] })
    const html = await s.page('/dashboard/embed')
    expect(html).toContain('action=&quot;http://localhost/api/v1/leads/capture?key=ask_pk_YOUR_PUBLISHABLE_KEY&quot;')
    expect(html).toContain('Bearer ask_pk_YOUR_PUBLISHABLE_KEY')
    expect(html).toContain('(https://www.example.com)')
  })

  test('behind a trusted proxy, the snippets carry the address the browser used; forwarded headers from others are ignored', async () => {
    const FORWARDED = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'leads.example.com' }
    const proxied = createHarness({ env: { ASKAD_TRUSTED_PROXIES: '127.0.0.1' } })
    try {
      for (const [harness, origin] of [
        [proxied, 'https://leads.example.com'],
        [h, 'http://localhost'],
      ] as const) {
        const ws = await harness.workspace()
        const s = await signIn(ws.key, harness)
        const embed = await (await harness.request('GET', s.at('/dashboard/embed'), { headers: { cookie: s.cookie, ...FORWARDED } })).text()
        expect(embed).toContain(`action=&quot;${origin}/api/v1/leads/capture?key=ask_pk_YOUR_PUBLISHABLE_KEY&quot;`)
      }
    } finally {
      await proxied.close()
    }
  })
})
