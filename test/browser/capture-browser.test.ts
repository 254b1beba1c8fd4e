/**
 * Browser capture end to end: the real app listening on 127.0.0.1, test pages served from other
 * ports (other origins), driven by the system's headless Chromium through playwright-core.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import type { Browser } from 'playwright-core'
import { leads } from '../../src/db/schema'
import { chromiumAvailable, launchChromium } from '../browser'
import { createHarness, type Harness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const hasChromium = chromiumAvailable('the browser capture tests')

// Run after agency-flow (which sets its own default), this file's tests got bun's 5 s rather than
// the preload's 30 s, and a first navigation on a loaded machine can take that long: set it here.
setDefaultTimeout(60_000)

/** Serves the test pages; each page knows the API address and the publishable key. */
function pageServer(pages: () => Record<string, string>) {
  return Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request) {
      const html = pages()[new URL(request.url).pathname]
      return html === undefined ? new Response('not found', { status: 404 }) : new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } })
    },
  })
}

describe.skipIf(!hasChromium)('browser capture (headless Chromium)', () => {
  let h: Harness
  let browser: Browser
  let api: string
  let key: string
  let site: ReturnType<typeof Bun.serve>
  let foreign: ReturnType<typeof Bun.serve>

  const pages = () => ({
    '/form.html': `<!doctype html><html><body>
      <form method="post" action="${api}/api/v1/leads/capture?key=${key}">
        <input name="email" type="email">
        <input name="name">
        <input type="hidden" name="utm_source" value="newsletter">
        <input type="hidden" name="_redirect" value="/thanks.html">
        <input name="_gotcha" style="display:none" tabindex="-1" autocomplete="off">
        <button type="submit">Send</button>
      </form></body></html>`,
    // No _redirect, and a text field so the browser lets a bad email through to the server.
    '/plain.html': `<!doctype html><html><body>
      <form method="post" action="${api}/api/v1/leads/capture?key=${key}">
        <input name="email"> <input name="name"> <button type="submit">Send</button>
      </form></body></html>`,
    '/thanks.html': '<!doctype html><html><body><h1 id="thanks">Thanks from the site</h1></body></html>',
    '/fetch.html': `<!doctype html><html><body>
      <form id="f"><input name="email" type="email"><input name="name"><button type="submit">Send</button></form>
      <pre id="result"></pre>
      <script>
        document.getElementById('f').addEventListener('submit', async (event) => {
          event.preventDefault()
          const data = Object.fromEntries(new FormData(event.target))
          const out = document.getElementById('result')
          try {
            const response = await fetch(${JSON.stringify(`${api}/api/v1/leads/capture`)}, {
              method: 'POST',
              headers: { Authorization: 'Bearer ${key}', 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
              body: JSON.stringify({ ...data, page_url: location.href }),
            })
            out.textContent = JSON.stringify({ status: response.status, requestId: response.headers.get('x-request-id'), body: await response.json() })
          } catch (error) {
            out.textContent = JSON.stringify({ error: String(error) })
          }
        })
      </script></body></html>`,
  })

  /** Statuses of the preflights the API answered, in order. */
  const preflightStatuses = () =>
    h.logs
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.msg === 'request' && entry.method === 'OPTIONS')
      .map((entry) => entry.status)

  /** Statuses of the capture POSTs the API answered, in order. */
  const postStatuses = () =>
    h.logs
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.msg === 'request' && entry.method === 'POST')
      .map((entry) => entry.status)

  const leadByEmail = (email: string) => h.db.select().from(leads).where(eq(leads.email, email)).get()

  beforeAll(async () => {
    h = createHarness()
    h.app.listen({ port: 0, hostname: '127.0.0.1' })
    api = `http://127.0.0.1:${h.app.server!.port}`
    site = pageServer(pages)
    foreign = pageServer(pages)
    const ws = await h.workspace()
    key = (await h.key(ws.id, { kind: 'publishable', allowedOrigins: [`http://127.0.0.1:${site.port}`] })).key
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    site?.stop(true)
    foreign?.stop(true)
    await h?.app.stop()
    h?.close()
  })

  test('a plain HTML form with no JavaScript ends on the _redirect page and the lead is stored', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false })
    try {
      const page = await context.newPage()
      await page.goto(`http://127.0.0.1:${site.port}/form.html`)
      await page.fill('input[name=email]', 'form@example.com')
      await page.fill('input[name=name]', 'Frida Kahlo')
      await Promise.all([page.waitForURL(`http://127.0.0.1:${site.port}/thanks.html`), page.click('button[type=submit]')])
      expect(await page.textContent('#thanks')).toBe('Thanks from the site')

      const lead = leadByEmail('form@example.com')!
      expect(lead).toBeDefined()
      expect([lead.channel, lead.source, lead.firstName, lead.lastName]).toEqual(['capture', 'website', 'Frida', 'Kahlo'])
      expect(lead.metadata).toEqual({ utm_source: 'newsletter' })
      expect(lead.context).toMatchObject({ ip: '127.0.0.1', utm_source: 'newsletter' })
      expect(String(lead.context!.user_agent)).toContain('Chrome')
      expect(String(lead.context!.referrer)).toStartWith(`http://127.0.0.1:${site.port}/`)
    } finally {
      await context.close()
    }
  })

  test('a plain HTML form without _redirect ends on the built-in thank-you page, which links back to the site', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false })
    try {
      const page = await context.newPage()
      await page.goto(`http://127.0.0.1:${site.port}/plain.html`)
      await page.fill('input[name=email]', 'plain@example.com')
      await page.fill('input[name=name]', 'Plain Form')
      await Promise.all([page.waitForURL(`${api}/api/v1/leads/capture?key=${key}`), page.click('button[type=submit]')])
      expect(await page.textContent('h1')).toBe('Thank you!')
      // Chromium sends a cross-origin form's Referer as the origin only: the back link goes there.
      expect(await page.getAttribute('a', 'href')).toBe(`http://127.0.0.1:${site.port}/`)
      expect(leadByEmail('plain@example.com')).toBeDefined()
    } finally {
      await context.close()
    }
  })

  test('a plain HTML form with a bad email ends on an error page (422) that says what to fix; nothing is stored', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false })
    try {
      const page = await context.newPage()
      await page.goto(`http://127.0.0.1:${site.port}/plain.html`)
      await page.fill('input[name=email]', 'not-an-email')
      const [response] = await Promise.all([page.waitForResponse((r) => r.url().startsWith(`${api}/api/v1/leads/capture`)), page.click('button[type=submit]')])
      expect(response.status()).toBe(422)
      await page.waitForSelector('h1')
      expect(await page.textContent('h1')).toBe('Your details were not sent')
      expect(await page.textContent('li')).toContain('email')
      expect(leadByEmail('not-an-email')).toBeUndefined()
    } finally {
      await context.close()
    }
  })

  test('a page using fetch with the publishable key (preflighted) stores the lead', async () => {
    const page = await browser.newPage()
    try {
      await page.goto(`http://127.0.0.1:${site.port}/fetch.html`)
      await page.fill('input[name=email]', 'fetch@example.com')
      await page.fill('input[name=name]', 'Ada Lovelace')
      await page.click('button[type=submit]')
      await page.waitForFunction(() => document.getElementById('result')!.textContent !== '')
      const result = JSON.parse((await page.textContent('#result'))!)
      expect(result.status).toBe(201)
      expect(result.body.status).toBe('created')
      expect(result.requestId).toStartWith('req_')
      expect(preflightStatuses()).toEqual([204])

      const lead = leadByEmail('fetch@example.com')!
      expect(lead.id).toBe(result.body.id)
      expect(lead.context).toMatchObject({ page_url: `http://127.0.0.1:${site.port}/fetch.html` })
    } finally {
      await page.close()
    }
  })

  test("the same page from an origin not on the key's list is refused and stores nothing", async () => {
    const page = await browser.newPage()
    const preflightsBefore = preflightStatuses().length
    const postsBefore = postStatuses().length
    try {
      await page.goto(`http://127.0.0.1:${foreign.port}/fetch.html`)
      await page.fill('input[name=email]', 'foreign@example.com')
      await page.click('button[type=submit]')
      await page.waitForFunction(() => document.getElementById('result')!.textContent !== '')
      const result = JSON.parse((await page.textContent('#result'))!)
      expect(result.error).toContain('Failed to fetch')
      // The preflight answers every origin alike (no oracle); the POST checks the key's list and
      // answers 403 without CORS headers, so the page cannot even read that answer.
      expect(preflightStatuses().slice(preflightsBefore)).toEqual([204])
      expect(postStatuses().slice(postsBefore)).toEqual([403])
      expect(leadByEmail('foreign@example.com')).toBeUndefined()
    } finally {
      await page.close()
    }
  })

  test('a plain form on a foreign origin is refused with 403 and stores nothing', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false })
    try {
      const page = await context.newPage()
      await page.goto(`http://127.0.0.1:${foreign.port}/form.html`)
      await page.fill('input[name=email]', 'foreign-form@example.com')
      const [response] = await Promise.all([page.waitForResponse((r) => r.url().startsWith(`${api}/api/v1/leads/capture`)), page.click('button[type=submit]')])
      expect(response.status()).toBe(403)
      expect(leadByEmail('foreign-form@example.com')).toBeUndefined()
    } finally {
      await context.close()
    }
  })
})
