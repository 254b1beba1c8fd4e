import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { revokeKey } from '../../src/modules/api-keys/service'
import { captureErrorPage } from '../../src/modules/capture'
import { prefersHtml, splitName } from '../../src/modules/capture/service'
import { createHarness, expectProblem, type Harness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const SITE = 'https://shop.example'
const OTHER_SITE = 'https://evil.example'
const CAPTURE = '/api/v1/leads/capture'
/** What Chromium sends when it navigates by submitting a form. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

let h: Harness
let ws: Awaited<ReturnType<Harness['workspace']>>
let pk: string

beforeAll(async () => {
  // Rate limits have their own tests; here one form key sends far more than a browser's share.
  h = createHarness({ env: { ASKAD_RATE_LIMIT: '10000/60s' } })
  ws = await h.workspace()
  pk = (await h.key(ws.id, { kind: 'publishable', allowedOrigins: [SITE] })).key
})
afterAll(() => h.close())

function leadsOf(workspaceId = ws.id) {
  return h.rows.all('leads', { workspaceId })
}

function leadById(id: string) {
  return h.rows.find('leads', { id })
}

function eventCount(): Promise<number> {
  return h.rows.count('events')
}

function form(fields: Record<string, string | string[]>): URLSearchParams {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(fields)) for (const v of [value].flat()) params.append(name, v)
  return params
}

function postForm(fields: Record<string, string | string[]>, headers: Record<string, string> = {}, query = '') {
  return h.request('POST', CAPTURE + query, {
    rawBody: form(fields),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  })
}

/** Runs a request that must be refused and checks that nothing at all was written. */
async function expectNothingStored(run: () => Promise<Response>): Promise<Response> {
  const leadsBefore = await h.rows.count('leads')
  const eventsBefore = await eventCount()
  const response = await run()
  expect(await h.rows.count('leads')).toBe(leadsBefore)
  expect(await eventCount()).toBe(eventsBefore)
  return response
}

describe('capture: happy path', () => {
  test('JSON with a publishable key from an allowed origin stores the lead and answers with CORS headers', async () => {
    const res = await h.request('POST', CAPTURE, {
      key: pk,
      body: {
        email: ' John@Example.com ',
        name: 'John Doe',
        page_url: 'https://shop.example/pricing',
        utm_source: 'google',
        utm_campaign: 'spring',
        plan: 'pro',
      },
      headers: { origin: SITE, 'user-agent': 'TestAgent/1.0', referer: 'https://shop.example/pricing?x=1' },
    })
    expect(res.status).toBe(201)
    const body = await res.json()
    expect(Object.keys(body).sort()).toEqual(['id', 'status'])
    expect(body.status).toBe('created')
    expect(body.id).toMatch(UUID)
    expect(res.headers.get('access-control-allow-origin')).toBe(SITE)
    expect(res.headers.get('vary')).toContain('Origin')
    expect(res.headers.get('access-control-expose-headers')).toContain('X-Request-Id')

    const lead = (await leadById(body.id))!
    expect(lead.workspaceId).toBe(ws.id)
    expect(lead.channel).toBe('capture')
    expect(lead.source).toBe('website')
    expect(lead.email).toBe('john@example.com')
    expect(lead.firstName).toBe('John')
    expect(lead.lastName).toBe('Doe')
    expect(lead.metadata).toEqual({ page_url: 'https://shop.example/pricing', utm_source: 'google', utm_campaign: 'spring', plan: 'pro' })
    expect(lead.context).toEqual({
      ip: '127.0.0.1',
      user_agent: 'TestAgent/1.0',
      referrer: 'https://shop.example/pricing?x=1',
      page_url: 'https://shop.example/pricing',
      utm_source: 'google',
      utm_campaign: 'spring',
    })
    const emitted = (await h.rows.all('events')).filter((e) => JSON.parse(e.payload).data.lead.id === body.id)
    expect(emitted.map((e) => e.type)).toEqual(['lead.created'])
  })

  test('urlencoded form with _key: control fields are not stored, repeated fields are kept, page_url falls back to the Referer', async () => {
    const res = await postForm(
      {
        email: 'ann@example.com',
        name: 'Ann  van der  Berg',
        interests: ['seo', 'ads'],
        utm_medium: 'cpc',
        _key: pk,
        _gotcha: '',
        _anything: 'x',
        source: 'landing-a',
      },
      { origin: SITE, referer: 'https://shop.example/contact' },
    )
    expect(res.status).toBe(201)
    const lead = (await leadById((await res.json()).id))!
    expect(lead.firstName).toBe('Ann')
    expect(lead.lastName).toBe('van der Berg')
    expect(lead.source).toBe('landing-a')
    expect(lead.metadata).toEqual({ interests: ['seo', 'ads'], utm_medium: 'cpc' })
    expect(lead.context).toMatchObject({ referrer: 'https://shop.example/contact', page_url: 'https://shop.example/contact', utm_medium: 'cpc' })
    expect(JSON.stringify(lead)).not.toContain(pk)
  })

  test('multipart form with ?key= in the action URL', async () => {
    const body = new FormData()
    body.append('email', 'multi@example.com')
    body.append('name', 'Cher')
    body.append('company', 'Acme')
    const res = await h.request('POST', `${CAPTURE}?key=${pk}`, { rawBody: body, headers: { origin: SITE } })
    expect(res.status).toBe(201)
    const lead = (await leadById((await res.json()).id))!
    expect(lead.email).toBe('multi@example.com')
    expect(lead.firstName).toBe('Cher')
    expect(lead.lastName).toBeNull()
    expect(lead.metadata).toEqual({ company: 'Acme' })
  })

  test('explicit first_name/last_name win over name; a JSON metadata object is merged like inbound', async () => {
    const res = await h.request('POST', CAPTURE, {
      key: pk,
      body: { email: 'fl@example.com', name: 'Ignored Name', first_name: 'Fiona', last_name: 'Lee', metadata: { score: 7 }, extra: true },
    })
    expect(res.status).toBe(201)
    const lead = (await leadById((await res.json()).id))!
    expect([lead.firstName, lead.lastName]).toEqual(['Fiona', 'Lee'])
    expect(lead.metadata).toEqual({ score: 7, extra: true })
  })

  test('a publishable key works without an Origin header (server-side or curl)', async () => {
    const res = await h.request('POST', CAPTURE, { key: pk, body: { email: 'curl@example.com' } })
    expect(res.status).toBe(201)
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
  })

  test('a secret key with leads:capture works from a server (no Origin)', async () => {
    const res = await h.request('POST', CAPTURE, { key: ws.key, body: { email: 'server@example.com' } })
    expect(res.status).toBe(201)
  })

  test('the client IP comes from X-Forwarded-For only behind a trusted proxy', async () => {
    const spoofed = await h.request('POST', CAPTURE, { key: pk, body: { email: 'ip1@example.com' }, headers: { 'x-forwarded-for': '203.0.113.9' } })
    expect((await leadById((await spoofed.json()).id))!.context).toMatchObject({ ip: '127.0.0.1' })

    const proxied = createHarness({ env: { ASKAD_TRUSTED_PROXIES: '127.0.0.1' } })
    try {
      const w = await proxied.workspace()
      const key = (await proxied.key(w.id, { kind: 'publishable', allowedOrigins: [SITE] })).key
      const res = await proxied.request('POST', CAPTURE, {
        key,
        body: { email: 'ip2@example.com' },
        headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.9' },
      })
      const id = (await res.json()).id
      expect((await proxied.rows.find('leads', { id }))!.context).toMatchObject({ ip: '203.0.113.9' })
    } finally {
      proxied.close()
    }
  })
})

describe('capture: CORS', () => {
  test('preflight from an allowed origin is answered with the CORS headers', async () => {
    const res = await h.request('OPTIONS', CAPTURE, {
      headers: { origin: SITE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe(SITE)
    expect(res.headers.get('vary')).toContain('Origin')
    expect(res.headers.get('access-control-allow-methods')).toContain('POST')
    const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase()
    for (const header of ['authorization', 'content-type', 'idempotency-key']) expect(allowed).toContain(header)
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0)
  })

  test("preflight with ?key= checks that key's own list", async () => {
    const other = (await h.key(ws.id, { kind: 'publishable', allowedOrigins: ['https://other.example'] })).key
    const ok = await h.request('OPTIONS', `${CAPTURE}?key=${other}`, { headers: { origin: 'https://other.example', 'access-control-request-method': 'POST' } })
    expect(ok.status).toBe(204)
    const refused = await h.request('OPTIONS', `${CAPTURE}?key=${other}`, { headers: { origin: SITE, 'access-control-request-method': 'POST' } })
    expect(refused.status).toBe(403)
    expect(refused.headers.get('access-control-allow-origin')).toBeNull()
  })

  test('preflight without ?key= answers every origin alike: no oracle of which sites use askad', async () => {
    const listed = await h.request('OPTIONS', CAPTURE, { headers: { origin: SITE, 'access-control-request-method': 'POST' } })
    const unlisted = await h.request('OPTIONS', CAPTURE, { headers: { origin: OTHER_SITE, 'access-control-request-method': 'POST' } })
    expect(listed.status).toBe(204)
    expect(unlisted.status).toBe(204)
    const corsHeaders = (res: Response, origin: string) =>
      [...res.headers].filter(([k]) => k.startsWith('access-control-') || k === 'vary').map(([k, v]) => [k, v.replace(origin, 'ORIGIN')])
    expect(corsHeaders(unlisted, OTHER_SITE)).toEqual(corsHeaders(listed, SITE))
  })

  test('with ?key=, a revoked key no longer opens preflights for its origins', async () => {
    const origin = 'https://revoked.example'
    const k = await h.key(ws.id, { kind: 'publishable', allowedOrigins: [origin] })
    const before = await h.request('OPTIONS', `${CAPTURE}?key=${k.key}`, { headers: { origin, 'access-control-request-method': 'POST' } })
    expect(before.status).toBe(204)
    await revokeKey(h.deps, ws.id, k.id)
    const after = await h.request('OPTIONS', `${CAPTURE}?key=${k.key}`, { headers: { origin, 'access-control-request-method': 'POST' } })
    expect(after.status).toBe(403)
  })

  test('preflights are limited per client IP', async () => {
    const own = createHarness({ env: { ASKAD_RATE_LIMIT: '5/60s', ASKAD_TRUSTED_PROXIES: '127.0.0.1' } })
    try {
      const preflight = (ip: string) =>
        own.request('OPTIONS', CAPTURE, { headers: { origin: SITE, 'access-control-request-method': 'POST', 'x-forwarded-for': ip } })
      const statuses: number[] = []
      for (let i = 0; i < 7; i++) statuses.push((await preflight('203.0.113.9')).status)
      expect(statuses).toEqual([204, 204, 204, 204, 204, 429, 429])
      const limited = await preflight('203.0.113.9')
      await expectProblem(limited, 429)
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
      expect((await preflight('198.51.100.9')).status).toBe(204)
    } finally {
      own.close()
    }
  })

  test("a POST from an origin not on the key's list is refused and stores nothing", async () => {
    const res = await expectNothingStored(() => h.request('POST', CAPTURE, { key: pk, body: { email: 'evil@example.com' }, headers: { origin: OTHER_SITE } }))
    expect(res.status).toBe(403)
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    expect((await res.json()).detail).toContain(OTHER_SITE)
  })

  test('a form POST from a foreign origin with _key is refused too', async () => {
    const res = await expectNothingStored(() => postForm({ email: 'evil2@example.com', _key: pk }, { origin: OTHER_SITE, accept: BROWSER_ACCEPT }))
    expect(res.status).toBe(403)
  })

  test('validation errors for an allowed origin still carry CORS headers, so the page can read them', async () => {
    const res = await h.request('POST', CAPTURE, { key: pk, body: { name: 'No Email' }, headers: { origin: SITE } })
    expect(res.status).toBe(422)
    expect(res.headers.get('access-control-allow-origin')).toBe(SITE)
  })
})

describe('capture: HTML forms', () => {
  test('_redirect on an allowed origin answers 303 there', async () => {
    const res = await postForm(
      { email: 'r1@example.com', _key: pk, _redirect: 'https://shop.example/thanks?from=form' },
      { origin: SITE, accept: BROWSER_ACCEPT },
    )
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('https://shop.example/thanks?from=form')
    expect((await leadsOf()).some((l) => l.email === 'r1@example.com')).toBe(true)
  })

  test('a relative _redirect resolves against the posting page', async () => {
    const res = await postForm({ email: 'r2@example.com', _redirect: '/thanks.html' }, { origin: SITE, accept: BROWSER_ACCEPT }, `?key=${pk}`)
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('https://shop.example/thanks.html')
  })

  test('a _redirect off the allowed origins is a 422 on /_redirect and stores nothing (no open redirect)', async () => {
    for (const target of ['https://evil.example/phish', '//evil.example/x', 'javascript:alert(1)', 'https://shop.example.evil.example/']) {
      const res = await expectNothingStored(() => postForm({ email: 'r3@example.com', _key: pk, _redirect: target }, { origin: SITE, accept: BROWSER_ACCEPT }))
      expect(res.status).toBe(422)
      expect(res.headers.get('location')).toBeNull()
      // A plain form's refusal is a page naming the field.
      expect(await res.text()).toContain('<strong>_redirect</strong>')
    }
  })

  test('without _redirect, the built-in thank-you page links back to the Referer instead of redirecting to it', async () => {
    // Chrome sends a cross-site form's Referer as the origin only: redirecting there landed visitors on the home page.
    const res = await postForm({ email: 'r4@example.com', _key: pk }, { origin: SITE, referer: 'https://shop.example/contact', accept: BROWSER_ACCEPT })
    expect(res.status).toBe(200)
    expect(res.headers.get('location')).toBeNull()
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const csp = res.headers.get('content-security-policy')!
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("script-src 'none'")
    expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/)
    const page = await res.text()
    expect(page).toContain('Thank you')
    expect(page).toContain('<a href="https://shop.example/contact">')
    expect(page).not.toMatch(/<script|<link|<img|src=/)
    expect((await leadsOf()).some((l) => l.email === 'r4@example.com')).toBe(true)
  })

  test('the thank-you page escapes the Referer and links only to http(s) pages', async () => {
    const hostile = await postForm(
      { email: 'r4b@example.com', _key: pk },
      { referer: 'https://shop.example/?q="><script>alert(1)</script>', accept: BROWSER_ACCEPT },
    )
    const page = await hostile.text()
    expect(page).not.toContain('<script>')
    expect(page).toContain('href="https://shop.example/?q=%22%3E%3Cscript%3Ealert(1)%3C/script%3E"')
    const scheme = await postForm({ email: 'r4c@example.com', _key: pk }, { referer: 'javascript:alert(1)', accept: BROWSER_ACCEPT })
    expect(await scheme.text()).not.toContain('javascript:')
  })

  test('without _redirect or a Referer, the thank-you page has no back link', async () => {
    const res = await postForm({ email: 'r5@example.com', _key: pk }, { accept: BROWSER_ACCEPT })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toStartWith('text/html')
    const page = await res.text()
    expect(page).toContain('Thank you')
    expect(page).not.toContain('<a ')
  })

  test('a plain form with a bad email gets an HTML page saying what to fix, with status 422, and nothing is stored', async () => {
    for (const email of ['not-an-email', '']) {
      const res = await expectNothingStored(() =>
        postForm({ email, _key: pk, _redirect: '/thanks' }, { origin: SITE, referer: 'https://shop.example/contact', accept: BROWSER_ACCEPT }),
      )
      expect(res.status).toBe(422)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(res.headers.get('content-security-policy')).toContain("script-src 'none'")
      expect(res.headers.get('access-control-allow-origin')).toBe(SITE)
      const page = await res.text()
      expect(page).toContain('Your details were not sent')
      expect(page).toContain('<strong>email</strong>')
      expect(page).toContain('<a href="https://shop.example/contact">Go back and try again</a>')
      expect(page).toMatch(/Reference: req_/)
    }
  })

  test('other refusals of a plain form are pages too; scripts and JSON callers keep problem+json', async () => {
    const badKey = await postForm({ email: 'k@example.com', _key: 'ask_pk_wrong' }, { accept: BROWSER_ACCEPT })
    expect(badKey.status).toBe(401)
    expect(badKey.headers.get('content-type')).toStartWith('text/html')
    expect(await badKey.text()).toContain('Your details were not sent')

    const fetched = await postForm({ email: 'not-an-email', _key: pk }, { origin: SITE, accept: '*/*' })
    expect(fetched.status).toBe(422)
    expect(fetched.headers.get('content-type')).toBe('application/problem+json')
    expect((await fetched.json()).errors[0].path).toBe('/email')

    const json = await h.request('POST', CAPTURE, { key: pk, body: { email: 'not-an-email' }, headers: { origin: SITE, accept: BROWSER_ACCEPT } })
    expect(json.status).toBe(422)
    expect(json.headers.get('content-type')).toBe('application/problem+json')
  })

  test('a form posted by fetch (Accept */*) gets the JSON answer, not a redirect', async () => {
    const res = await postForm({ email: 'r6@example.com', _key: pk, _redirect: 'https://shop.example/thanks' }, { origin: SITE, accept: '*/*' })
    expect(res.status).toBe(201)
    expect((await res.json()).status).toBe('created')
  })

  test('the error page never throws: a request line that leaves no parsable URL gets the usual problem', () => {
    const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded', accept: BROWSER_ACCEPT })
    const problem = { type: 'about:blank', title: 'Bad Request', status: 400, detail: 'x', request_id: 'req_1' }
    // Bun hands an odd request line (absolute-form, padded paths) to the app with a URL like this one.
    const odd = { method: 'POST', url: '/api/v1/leads/capture', headers } as unknown as Request
    expect(captureErrorPage(odd, problem)).toBeNull()
    const plain = { method: 'POST', url: 'http://askad.test/api/v1/leads/capture', headers } as unknown as Request
    expect(captureErrorPage(plain, problem)?.headers['content-type']).toBe('text/html; charset=utf-8')
  })

  test('HTML is preferred only when Accept ranks it above JSON', () => {
    expect(prefersHtml(BROWSER_ACCEPT)).toBe(true)
    expect(prefersHtml('text/html')).toBe(true)
    expect(prefersHtml('*/*')).toBe(false)
    expect(prefersHtml(null)).toBe(false)
    expect(prefersHtml('application/json, text/html;q=0.5')).toBe(false)
    expect(prefersHtml('text/*;q=0.9, application/json;q=0.1')).toBe(true)
  })
})

describe('capture: honeypot', () => {
  test('a filled _gotcha answers like success but stores nothing and is logged as spam', async () => {
    const res = await expectNothingStored(() =>
      h.request('POST', CAPTURE, { key: pk, body: { email: 'bot@example.com', name: 'Bot', _gotcha: 'http://spam.example' }, headers: { origin: SITE } }),
    )
    expect(res.status).toBe(201)
    const body = await res.json()
    expect(Object.keys(body).sort()).toEqual(['id', 'status'])
    expect(body.status).toBe('created')
    expect(body.id).toMatch(UUID)
    expect(await leadById(body.id)).toBeUndefined()
    expect((await leadsOf()).some((l) => l.email === 'bot@example.com')).toBe(false)
    expect(h.logs.some((line) => JSON.parse(line).msg === 'capture.spam')).toBe(true)
  })

  test('a filled _gotcha in an HTML form redirects like a real submission', async () => {
    const res = await expectNothingStored(() =>
      postForm({ email: 'bot2@example.com', _key: pk, _gotcha: 'yes', _redirect: 'https://shop.example/thanks' }, { origin: SITE, accept: BROWSER_ACCEPT }),
    )
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('https://shop.example/thanks')
    const page = await expectNothingStored(() => postForm({ email: 'bot3@example.com', _key: pk, _gotcha: 'yes' }, { origin: SITE, accept: BROWSER_ACCEPT }))
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Thank you')
  })
})

describe('capture: auth and validation', () => {
  test('no key at all is 401', async () => {
    const json = await expectNothingStored(() => h.request('POST', CAPTURE, { body: { email: 'nokey@example.com' }, headers: { origin: SITE } }))
    expect(json.status).toBe(401)
    expect((await json.json()).detail).toContain('_key')
    const formRes = await expectNothingStored(() => postForm({ email: 'nokey@example.com' }, { accept: BROWSER_ACCEPT }))
    expect(formRes.status).toBe(401)
  })

  test('malformed, unknown and revoked keys are 401 in every place a key may come from', async () => {
    const unknown = await h.key(ws.id, { kind: 'publishable', allowedOrigins: [SITE] })
    await revokeKey(h.deps, ws.id, unknown.id)
    for (const bad of ['ask_pk_nope', unknown.key]) {
      expect((await expectNothingStored(() => postForm({ email: 'bad@example.com', _key: bad }))).status).toBe(401)
      expect((await expectNothingStored(() => postForm({ email: 'bad@example.com' }, {}, `?key=${bad}`))).status).toBe(401)
      expect((await expectNothingStored(() => h.request('POST', CAPTURE, { key: bad, body: { email: 'bad@example.com' } }))).status).toBe(401)
    }
  })

  test('a secret key on a request from another origin is refused', async () => {
    const res = await expectNothingStored(() => h.request('POST', CAPTURE, { key: ws.key, body: { email: 'leak@example.com' }, headers: { origin: SITE } }))
    expect(res.status).toBe(403)
    const viaForm = await expectNothingStored(() => postForm({ email: 'leak@example.com', _key: ws.key }, { origin: SITE, accept: BROWSER_ACCEPT }))
    expect(viaForm.status).toBe(401)
  })

  test('a secret key in ?key= or _key is refused with a 401 that says why, even from no origin', async () => {
    for (const send of [
      () => postForm({ email: 'leak@example.com', _key: ws.key }),
      () => h.request('POST', `${CAPTURE}?key=${ws.key}`, { body: { email: 'leak@example.com' } }),
      () =>
        h.request('POST', `${CAPTURE}?key=${ws.key}`, {
          rawBody: new URLSearchParams({ email: 'leak@example.com' }),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
    ]) {
      const res = await expectNothingStored(send)
      const body = await expectProblem(res, 401)
      expect(body.detail).toContain('Secret keys (ask_sk_…) are not accepted')
      expect(JSON.stringify(body)).not.toContain(ws.key)
    }
  })

  test('a key without leads:capture is 403', async () => {
    const readOnly = (await h.key(ws.id, { kind: 'secret', scopes: ['leads:read'] })).key
    const res = await expectNothingStored(() => h.request('POST', CAPTURE, { key: readOnly, body: { email: 'scope@example.com' } }))
    expect(res.status).toBe(403)
    expect((await res.json()).title).toBe('Insufficient scope')
  })

  test('email is required: missing or blank is 422 on /email', async () => {
    const missing = await expectNothingStored(() => h.request('POST', CAPTURE, { key: pk, body: { name: 'No Email', phone: '+123456789' } }))
    expect(missing.status).toBe(422)
    expect((await missing.json()).errors.map((e: { path: string }) => e.path)).toContain('/email')
    const blank = await expectNothingStored(() => postForm({ email: '  ', name: 'Blank', _key: pk }))
    expect(blank.status).toBe(422)
    expect((await blank.json()).errors).toEqual([{ path: '/email', message: 'is required' }])
    const malformed = await expectNothingStored(() => h.request('POST', CAPTURE, { key: pk, body: { email: 'not-an-email' } }))
    expect(malformed.status).toBe(422)
  })

  test('a JSON body that is not an object is 422, a malformed one 400, an unknown content type 415', async () => {
    expect((await expectNothingStored(() => h.request('POST', CAPTURE, { key: pk, body: ['a@b.co'] }))).status).toBe(422)
    expect(
      (await expectNothingStored(() => h.request('POST', CAPTURE, { key: pk, rawBody: '{"email":', headers: { 'content-type': 'application/json' } }))).status,
    ).toBe(400)
    expect(
      (await expectNothingStored(() => h.request('POST', CAPTURE, { key: pk, rawBody: 'email=a@b.co', headers: { 'content-type': 'text/plain' } }))).status,
    ).toBe(415)
  })

  test("a lead captured with one workspace's key lands only in that workspace", async () => {
    const other = await h.workspace()
    const otherPk = (await h.key(other.id, { kind: 'publishable', allowedOrigins: [SITE] })).key
    const res = await h.request('POST', CAPTURE, { key: otherPk, body: { email: 'tenant@example.com' }, headers: { origin: SITE } })
    expect(res.status).toBe(201)
    expect((await leadsOf(other.id)).map((l) => l.email)).toEqual(['tenant@example.com'])
    expect((await leadsOf()).some((l) => l.email === 'tenant@example.com')).toBe(false)
  })
})

test('splitName splits at the first run of spaces', () => {
  expect(splitName('Jane')).toEqual({ firstName: 'Jane', lastName: null })
  expect(splitName('  Jane   van der  Berg ')).toEqual({ firstName: 'Jane', lastName: 'van der Berg' })
  expect(splitName('   ')).toEqual({ firstName: null, lastName: null })
  expect(splitName(undefined)).toEqual({ firstName: null, lastName: null })
})
