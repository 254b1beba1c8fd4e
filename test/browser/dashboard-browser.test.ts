/**
 * The dashboard end to end in headless Chromium (playwright-core, the system's browser): sign in,
 * create a publishable key and a webhook, submit the embed form from another origin, see the lead
 * and its `lead.created` delivery, revoke the key. Every page is screenshotted at desktop and phone
 * width into screenshots/, and no page may make a request anywhere but 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { Webhook } from 'standardwebhooks'
import { createCampaign, recordSpend } from '../../src/modules/campaigns/service'
import { createDeal } from '../../src/modules/deals/service'
import { createOwner } from '../../src/modules/operators/service'
import { startDispatcher, type Dispatcher } from '../../src/workers/dispatcher'
import { chromiumAvailable, launchChromium } from '../browser'
import { createHarness, type Harness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const hasChromium = chromiumAvailable('the dashboard browser tests')
const SCREENSHOTS = join(import.meta.dir, '..', '..', 'screenshots')
const DESKTOP = { width: 1280, height: 900 }
const PHONE = { width: 375, height: 812 }

interface Received {
  headers: Record<string, string>
  body: string
}

describe.skipIf(!hasChromium)('dashboard (headless Chromium)', () => {
  let h: Harness
  let dispatcher: Dispatcher
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let api: string
  let secretKey: string
  let campaignId: string
  let receiver: ReturnType<typeof Bun.serve>
  let site: ReturnType<typeof Bun.serve>
  const received: Received[] = []
  const requested: string[] = []
  let sitePage = '<!doctype html><p>not ready</p>'

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true })
    h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
    // Receivers check webhook-timestamp against their own clock: start the test clock at the real time.
    h.clock.set(Date.now())
    dispatcher = startDispatcher(h.deps)
    h.deps.wake = () => dispatcher.wake()
    h.app.listen({ port: 0, hostname: '127.0.0.1' })
    api = `http://127.0.0.1:${h.app.server!.port}`
    const ws = await h.workspace('acme')
    secretKey = ws.key
    await createDeal(h.deps, ws.id, { title: 'Website redesign', value: '4800.00', currency: 'EUR', stage: 'proposal' })
    await createDeal(h.deps, ws.id, { title: 'SEO retainer', value: 950, currency: 'EUR', stage: 'negotiation' })
    const campaign = await createCampaign(h.deps, ws.id, { name: 'Spring search ads', currency: 'EUR', budget: 5000, spend_thresholds: [1000, 2500, 4500] })
    campaignId = campaign.id
    await recordSpend(h.deps, ws.id, campaign.id, { amount: 2600 })

    receiver = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch(request) {
        received.push({ headers: Object.fromEntries(request.headers), body: await request.text() })
        return new Response('thanks', { status: 200 })
      },
    })
    site = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: () => new Response(sitePage, { headers: { 'content-type': 'text/html; charset=utf-8' } }),
    })
    browser = await launchChromium()
    context = await browser.newContext({ viewport: DESKTOP })
    context.on('request', (request) => void requested.push(request.url()))
    page = await context.newPage()
    page.on('dialog', (dialog) => void dialog.accept())
  }, 60_000) // Chromium starts slowly on a busy machine

  afterAll(async () => {
    await browser?.close()
    await dispatcher?.stop()
    receiver?.stop(true)
    site?.stop(true)
    await h?.app.stop()
    h?.close()
  })

  /** Where the signed-in workspace's pages live (`/dashboard/w/<slug>`), known after sign-in. */
  let base = ''

  /** Follows a main-navigation link and waits for its page. */
  const visit = (label: string, path: string) => Promise.all([page.waitForURL(`${api}${base}${path}`), page.click(`nav >> text=${label}`)])

  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `dashboard-${name}-desktop.png`), fullPage: true })

  test('sign in, create a key and a webhook, capture a lead from another origin, see its delivery, revoke the key', async () => {
    await page.goto(`${api}/`)
    await page.waitForURL(`${api}/dashboard/sign-in?next=%2Fdashboard`)
    await shot('sign-in')
    // Email and password come first; signing in with a key is the second form, behind a disclosure.
    expect(await page.isVisible('#key')).toBe(false)
    await page.click('summary')
    await page.fill('#key', 'ask_sk_wrong')
    await page.click('details button[type=submit]')
    expect(await page.textContent('.notice.error')).toContain('That is not an askad key')
    await page.fill('#key', secretKey)
    await Promise.all([page.waitForURL(/\/dashboard\/w\/[\w-]+$/), page.click('details button[type=submit]')])
    base = new URL(page.url()).pathname
    const cookies = await context.cookies()
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path])).toEqual([['askad_session', true, 'Strict', '/']])
    expect(await page.evaluate(() => document.cookie)).toBe('')

    // A publishable key for the site's origin; the one-time view carries the ready-to-paste form.
    await visit('API keys', '/settings/api-keys')
    await page.check('input[name=kind][value=publishable]')
    expect(await page.isVisible('textarea[name=allowed_origins]')).toBe(true)
    expect(await page.isVisible('input[name=scopes]')).toBe(false)
    await page.fill('input[name=name]', 'Landing page')
    await page.fill('textarea[name=allowed_origins]', `http://127.0.0.1:${site.port}`)
    await page.click('#create-key button[type=submit]')
    const key = (await page.textContent('#new-key'))!
    expect(key).toStartWith('ask_pk_')
    await shot('api-key-created')
    sitePage = `<!doctype html><html><body><h1>Our site</h1>${(await page.textContent('#snippet-form'))!}</body></html>`
    expect(sitePage).toContain(`${api}/api/v1/leads/capture?key=${key}`)

    // A webhook endpoint on a local receiver, for lead.created.
    await visit('Webhooks', '/settings/webhooks')
    await page.fill('input[name=url]', `http://127.0.0.1:${receiver.port}/hooks`)
    await page.fill('input[name=description]', 'CRM sync')
    await page.check('input[name=events][value="lead.created"]')
    await page.click('#create-webhook button[type=submit]')
    const secret = (await page.textContent('#new-secret'))!
    expect(secret).toStartWith('whsec_')
    await shot('webhook-created')
    await page.click('text=Continue to the endpoint')
    const endpointUrl = page.url()

    // The embed form, pasted into a page of another origin, submitted by a visitor.
    const visitor = await context.newPage()
    await visitor.goto(`http://127.0.0.1:${site.port}/contact.html`)
    await visitor.fill('input[name=email]', 'visitor@example.com')
    await visitor.fill('input[name=name]', 'Grace Hopper')
    const [capture] = await Promise.all([
      visitor.waitForResponse((r) => r.url().startsWith(`${api}/api/v1/leads/capture`)),
      visitor.click('button[type=submit]'),
    ])
    // The snippet has no _redirect: the visitor sees askad's thank-you page, with a link back to the site.
    expect(capture.status()).toBe(200)
    await visitor.waitForURL((url) => url.href.startsWith(`${api}/api/v1/leads/capture`))
    expect(await visitor.textContent('h1')).toBe('Thank you!')
    expect(await visitor.getAttribute('a', 'href')).toStartWith(`http://127.0.0.1:${site.port}/`)
    await visitor.close()

    await visit('Leads', '/leads')
    expect(await page.textContent('main table')).toContain('visitor@example.com')
    expect(await page.textContent('main table')).toContain('Grace Hopper')

    // The dispatcher delivers lead.created; the endpoint's log shows the attempt.
    const deadline = Date.now() + 10_000
    while (received.length === 0 && Date.now() < deadline) await Bun.sleep(50)
    expect(received).toHaveLength(1)
    const event = new Webhook(secret).verify(received[0]!.body, received[0]!.headers) as { type: string; data: { lead: { email: string } } }
    expect([event.type, event.data.lead.email]).toEqual(['lead.created', 'visitor@example.com'])
    const delivery = page.locator('article.delivery[data-event-type="lead.created"]')
    // The receiver has answered; the dispatcher records the outcome right after.
    for (let tries = 0; tries < 50; tries++) {
      await page.goto(endpointUrl)
      if ((await delivery.locator('.badge').textContent()) === 'succeeded') break
      await Bun.sleep(100)
    }
    expect(await delivery.locator('.badge').textContent()).toBe('succeeded')
    expect(await delivery.locator('tbody tr').first().textContent()).toContain('200')
    await shot('webhook-endpoint')

    // Revoking the key: the row says so, and the site's form stops working.
    await visit('API keys', '/settings/api-keys')
    await page.click(`tr:has-text("Landing page") button:has-text("Revoke")`)
    await page.waitForURL(`${api}${base}/settings/api-keys?done=revoked`)
    expect(await page.textContent('tr:has-text("Landing page")')).toContain('revoked')
    const refused = await fetch(`${api}/api/v1/leads/capture?key=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"email":"late@example.com"}',
    })
    expect(refused.status).toBe(401)
  }, 30_000)

  test('convert the captured lead, then drag its deal to won: moved by the server, deal.closed once; the select still moves by keyboard', async () => {
    const workspaceId = (await h.rows.find('workspaces', { slug: 'acme' }))!.id
    await visit('Leads', '/leads')
    await Promise.all([page.waitForURL(/\/convert$/), page.click('tr:has-text("Grace Hopper") a.button:text-is("Convert")')])
    expect(await page.inputValue('#convert-lead input[name=title]')).toBe('Grace Hopper')
    await page.fill('#convert-lead input[name=value]', '1200')
    await page.fill('#convert-lead input[name=currency]', 'EUR')
    await shot('lead-convert')
    await Promise.all([page.waitForURL(/\/dashboard\/w\/acme\/deals\/.+\?done=converted$/), page.click('#convert-lead button[type=submit]')])
    expect(await page.textContent('.notice.ok')).toContain('Lead converted')
    const [deal] = await h.rows.all('deals', { workspaceId, title: 'Grace Hopper' })
    expect(deal).toMatchObject({ stage: 'new', valueMinor: 120000, currency: 'EUR' })
    await visit('Leads', '/leads')
    expect(await page.textContent('tr:has-text("Grace Hopper")')).toContain('converted')
    expect(await page.locator('tr:has-text("Grace Hopper") a.button:text-is("Convert")').count()).toBe(0)

    await visit('Deals', '/deals')
    const card = page.locator(`article.deal[data-deal="${deal!.id}"]`)
    const won = page.locator('.column[data-stage="won"]')
    expect(await page.textContent('.column[data-stage="new"] .totals')).toContain('1,200.00 EUR')
    await card.dragTo(won)
    await page.waitForSelector('.notice.ok')
    expect(await page.textContent('.notice.ok')).toContain('Deal moved')
    // Moved by the script's fetch: the board was redrawn in place, the address is the board's.
    expect(page.url()).toBe(`${api}${base}/deals`)
    expect(await won.locator(`article.deal[data-deal="${deal!.id}"]`).count()).toBe(1)
    expect(await page.textContent('.column[data-stage="won"] .totals')).toContain('1,200.00 EUR')
    expect(await page.textContent('.column[data-stage="won"] .count')).toBe('1')
    expect((await h.rows.find('deals', { id: deal!.id }))!.stage).toBe('won')
    // Dropped on its own column again: nothing is sent, deal.closed stays at one.
    await won.locator(`article.deal[data-deal="${deal!.id}"]`).dragTo(won)
    const closed = await h.rows.all('events', { workspaceId, type: 'deal.closed' })
    expect(closed.filter((e) => e.payload.includes(deal!.id))).toHaveLength(1)
    await shot('deals-moved')

    // Keyboard: the select and its Move button, a full page load.
    const seo = page.locator('article.deal:has-text("SEO retainer")')
    await seo.locator('select').focus()
    await seo.locator('select').selectOption('lost')
    await seo.locator('button').focus()
    await Promise.all([page.waitForURL(`${api}${base}/deals?done=moved`), page.keyboard.press('Enter')])
    expect(await page.locator('.column[data-stage="lost"] article.deal:has-text("SEO retainer")').count()).toBe(1)
  }, 30_000)

  test('every page renders at desktop and phone width without sideways scrolling, loading only from 127.0.0.1', async () => {
    const pages = {
      overview: '',
      contacts: '/contacts',
      leads: '/leads',
      deals: '/deals',
      'api-keys': '/settings/api-keys',
      webhooks: '/settings/webhooks',
      sources: '/settings/sources',
      embed: '/embed',
      campaigns: '/campaigns',
      campaign: `/campaigns/${campaignId}`,
      'deal-new': '/deals/new',
      members: '/settings/members',
      'workspace-settings': '/settings/workspace',
    }
    for (const [viewport, label] of [
      [DESKTOP, 'desktop'],
      [PHONE, 'phone'],
    ] as const) {
      await page.setViewportSize(viewport)
      for (const [name, path] of Object.entries(pages)) {
        // Old paths: redirected to the same page of the session's workspace.
        const response = await page.goto(`${api}/dashboard${path}`)
        expect(page.url()).toBe(`${api}${base}${path}`)
        expect(response!.status()).toBe(200)
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width)
        await page.screenshot({ path: join(SCREENSHOTS, `dashboard-${name}-${label}.png`), fullPage: true })
      }
    }
    expect(requested.length).toBeGreaterThan(20)
    expect(requested.filter((url) => !url.startsWith('http://127.0.0.1:'))).toEqual([])
  }, 30_000)

  test('create a Zapier source: only its fields show, the URL is shown once with steps, and a form post to it is a lead', async () => {
    await page.setViewportSize(DESKTOP)
    await visit('Sources', '/settings/sources')
    await page.selectOption('select[name=preset]', 'zapier')
    // The script shows only the secrets the chosen tool takes: Zapier has no verify or page token.
    expect(await page.isVisible('input[name=signing_secret]')).toBe(true)
    expect(await page.isVisible('input[name=verify_token]')).toBe(false)
    expect(await page.isVisible('input[name=access_token]')).toBe(false)
    await page.fill('input[name=name]', 'Zapier: webinar sign-ups')
    await page.click('button:has-text("Create source")')
    const url = (await page.textContent('#source-url'))!
    expect(url).toMatch(new RegExp(`^${api}/api/v1/in/src_\\w+$`))
    expect(await page.textContent('main')).toContain('Zapier')
    await shot('source-created')
    await page.setViewportSize(PHONE)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width)
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-source-created-phone.png'), fullPage: true })
    await page.setViewportSize(DESKTOP)

    // What Zapier's "Webhooks by Zapier" POST with payload type Form sends.
    const sent = await fetch(url, { method: 'POST', body: new URLSearchParams({ 'First Name': 'Wendy', 'Last Name': 'Webinar', Email: 'wendy@example.com' }) })
    expect(sent.status).toBe(201)
    await visit('Sources', '/settings/sources')
    expect(await page.textContent('main')).not.toContain(url) // listed by its prefix only, never again in full
    await page.goto(`${api}${base}/leads`)
    expect(await page.textContent('main')).toContain('wendy@example.com')
  }, 30_000)

  test('an operator signs in by password, switches workspace in the header without JavaScript, and the team pages fit a phone', async () => {
    await h.workspace('globex')
    // Like `askad operator create`: the owner of every workspace there is.
    await createOwner(h.deps, { email: 'owner@agency.example', password: 'correct horse battery' })
    const operator = await browser.newContext({ viewport: DESKTOP, javaScriptEnabled: false })
    try {
      const tab = await operator.newPage()
      await tab.goto(`${api}/dashboard/sign-in`)
      await tab.fill('#email', 'owner@agency.example')
      await tab.fill('#password', 'correct horse battery')
      await Promise.all([tab.waitForURL(`${api}/dashboard/w/acme`), tab.click('form:not(details form) button[type=submit]')])
      await tab.selectOption('#switch-workspace', 'globex')
      await Promise.all([tab.waitForURL(`${api}/dashboard/w/globex`), tab.click('.switcher button')])
      expect(await tab.textContent('.switcher option[selected]')).toBe('globex')
      const pages = {
        members: '/dashboard/w/globex/settings/members',
        'workspace-settings': '/dashboard/w/globex/settings/workspace',
        workspaces: '/dashboard/workspaces',
      }
      for (const [viewport, label] of [
        [DESKTOP, 'desktop'],
        [PHONE, 'phone'],
      ] as const) {
        await tab.setViewportSize(viewport)
        for (const [name, path] of Object.entries(pages)) {
          expect((await tab.goto(`${api}${path}`))!.status()).toBe(200)
          expect(await tab.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width)
          await tab.screenshot({ path: join(SCREENSHOTS, `dashboard-operator-${name}-${label}.png`), fullPage: true })
        }
      }
    } finally {
      await operator.close()
    }
  }, 60_000)
})
