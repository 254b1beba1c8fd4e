/**
 * The agency's day, end to end, on the real executable in headless Chromium: an operator made with
 * `askad operator create` signs in, creates workspace "acme", invites a colleague who accepts in
 * their own browser, creates a publishable key, a visitor's embed form captures a lead, the lead is
 * converted and its deal moved to won, `deal.closed` reaches a real receiver (signature checked)
 * and the delivery log shows its payload, the contacts are exported as CSV, the contact is erased,
 * and the audit log names every step. Every page is screenshotted at desktop and phone width into
 * screenshots/ (agency-*.png); no page may load anything from anywhere but 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { Webhook } from 'standardwebhooks'
import { chromiumAvailable, launchChromium } from '../browser'
import { ensureExecutable, startServer, type RunningServer } from '../exe'

const hasChromium = chromiumAvailable('the agency flow in Chromium')
const SCREENSHOTS = join(import.meta.dir, '..', '..', 'screenshots')
const DESKTOP = { width: 1280, height: 900 }
const PHONE = { width: 375, height: 812 }
const OWNER = { email: 'owner@agency.example', password: 'correct horse battery' }
const COLLEAGUE = { email: 'sam@agency.example', password: 'staple battery horse' }

// The executable is built if the sources changed (≈10 s), and argon2id runs on every sign-in.
setDefaultTimeout(120_000)
/** The longest one browser step may take (a navigation, a click that posts, a download). */
const STEP_TIMEOUT_MS = 20_000

interface Received {
  headers: Record<string, string>
  body: string
}

describe.skipIf(!hasChromium)('the agency flow (executable + Chromium)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'askad-agency-'))
  const db = join(dir, 'askad.db')
  let server: RunningServer
  let api: string
  let browser: Browser
  let owner: BrowserContext
  let page: Page
  let receiver: ReturnType<typeof Bun.serve>
  let site: ReturnType<typeof Bun.serve>
  let sitePage = '<!doctype html><p>not ready</p>'
  const received: Received[] = []
  const requested: string[] = []
  const base = '/dashboard/w/acme'

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true })
    const exe = ensureExecutable()
    // Before the first start, as a newcomer would: `migrate` makes the database, then the operator.
    expect(Bun.spawnSync([exe, 'migrate', '--db', db], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir } }).exitCode).toBe(0)
    const created = Bun.spawnSync([exe, 'operator', 'create', OWNER.email, '--db', db, '--json'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir },
      stdin: Buffer.from(`${OWNER.password}\n`),
      stdout: 'pipe',
      stderr: 'pipe',
    })
    expect(created.exitCode).toBe(0)
    expect(JSON.parse(created.stdout.toString())).toMatchObject({ email: OWNER.email })
    expect(created.stdout.toString() + created.stderr.toString()).not.toContain(OWNER.password)

    server = await startServer([exe, 'serve', '--db', db], { cwd: dir, env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
    api = server.url
    receiver = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch(request) {
        received.push({ headers: Object.fromEntries(request.headers), body: await request.text() })
        return new Response('ok', { status: 200 })
      },
    })
    site = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response(sitePage, { headers: { 'content-type': 'text/html; charset=utf-8' } }) })
    browser = await launchChromium()
    owner = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true })
    owner.on('request', (request) => void requested.push(request.url()))
    page = await owner.newPage()
    // A step that hangs fails by name within this, well before the test's own limit.
    page.setDefaultTimeout(STEP_TIMEOUT_MS)
    page.on('dialog', (dialog) => void dialog.accept())
  })

  afterAll(async () => {
    await browser?.close()
    receiver?.stop(true)
    site?.stop(true)
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Screenshots the page as it is at desktop width and again at phone width (no sideways scrolling there). */
  async function shot(name: string, tab: Page = page) {
    await tab.screenshot({ path: join(SCREENSHOTS, `agency-${name}-desktop.png`), fullPage: true })
    await tab.setViewportSize(PHONE)
    expect(await tab.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width)
    await tab.screenshot({ path: join(SCREENSHOTS, `agency-${name}-phone.png`), fullPage: true })
    await tab.setViewportSize(DESKTOP)
  }

  /** Goes to a page and checks it answered 200. */
  async function open(path: string, tab: Page = page) {
    const response = await tab.goto(`${api}${path}`)
    expect(response!.status()).toBe(200)
  }

  test('operator → workspace → invite → key → captured lead → converted → won → deal.closed → CSV → erasure → audit log', async () => {
    // Sign in as the operator the CLI made.
    await page.goto(`${api}/dashboard`)
    await page.waitForURL(/\/dashboard\/sign-in/)
    await shot('sign-in')
    await page.fill('#email', OWNER.email)
    await page.fill('#password', OWNER.password)
    await Promise.all([page.waitForURL(`${api}/dashboard/w/default`), page.click('form:not(details form) button[type=submit]')])
    await shot('overview-default')

    // A workspace for the client.
    await open('/dashboard/workspaces')
    await page.fill('#create-workspace input[name=slug]', 'acme')
    await page.fill('#create-workspace input[name=name]', 'Acme Inc.')
    await Promise.all([page.waitForURL(`${api}${base}?done=created`), page.click('#create-workspace button[type=submit]')])
    await shot('workspaces-created')

    // An invite link for a colleague, accepted in their own browser as a new operator.
    await open(`${base}/settings/members`)
    await page.selectOption('#create-invite select[name=role]', 'admin')
    await page.click('#create-invite button[type=submit]')
    const link = (await page.textContent('#invite-link'))!.trim()
    expect(link).toContain('/dashboard/invite/')
    await shot('invite-created')
    const colleague = await browser.newContext({ viewport: DESKTOP })
    colleague.on('request', (request) => void requested.push(request.url()))
    const theirs = await colleague.newPage()
    theirs.setDefaultTimeout(STEP_TIMEOUT_MS)
    await theirs.goto(link)
    await shot('invite', theirs)
    await theirs.fill('#join-invite input[name=email]', COLLEAGUE.email)
    await theirs.fill('#join-invite input[name=password]', COLLEAGUE.password)
    await Promise.all([theirs.waitForURL(new RegExp(`${base}(\\?done=joined)?$`)), theirs.click('#join-invite button[type=submit]')])
    expect(await theirs.textContent('header')).toContain('Acme Inc.')
    await colleague.close()
    await open(`${base}/settings/members`)
    expect(await page.textContent('main table')).toContain(COLLEAGUE.email)
    await shot('members')

    // A publishable key for the client's site; its one-time view carries the form to paste.
    await open(`${base}/settings/api-keys`)
    await page.check('input[name=kind][value=publishable]')
    await page.fill('#create-key input[name=name]', 'Landing page')
    await page.fill('textarea[name=allowed_origins]', `http://127.0.0.1:${site.port}`)
    await page.click('#create-key button[type=submit]')
    const key = (await page.textContent('#new-key'))!
    expect(key).toStartWith('ask_pk_')
    await shot('api-key-created')
    sitePage = `<!doctype html><html><body><h1>Acme</h1>${(await page.textContent('#snippet-form'))!}</body></html>`

    // A webhook endpoint on a local receiver, for deal.closed.
    await open(`${base}/settings/webhooks`)
    await page.fill('#create-webhook input[name=url]', `http://127.0.0.1:${receiver.port}/hooks`)
    await page.check('#create-webhook input[name=events][value="deal.closed"]')
    await page.click('#create-webhook button[type=submit]')
    const secret = (await page.textContent('#new-secret'))!
    expect(secret).toStartWith('whsec_')
    await page.click('text=Continue to the endpoint')
    const endpointPath = new URL(page.url()).pathname

    // A visitor fills in the embed form on the client's site.
    const visitor = await owner.newPage()
    await visitor.goto(`http://127.0.0.1:${site.port}/contact`)
    await visitor.fill('input[name=email]', 'ada@example.com')
    await visitor.fill('input[name=name]', 'Ada Lovelace')
    const [capture] = await Promise.all([
      visitor.waitForResponse((r) => r.url().startsWith(`${api}/api/v1/leads/capture`)),
      visitor.click('button[type=submit]'),
    ])
    // Without _redirect the visitor lands on the built-in thank-you page, with a link back to the site.
    expect(capture.status()).toBe(200)
    await visitor.waitForURL((url) => url.href.startsWith(`${api}/api/v1/leads/capture`))
    expect(await visitor.textContent('h1')).toBe('Thank you!')
    await visitor.close()

    // Convert the lead, then move its deal to won.
    await open(`${base}/leads`)
    expect(await page.textContent('main table')).toContain('ada@example.com')
    await shot('leads')
    await Promise.all([page.waitForURL(/\/convert$/), page.click('tr:has-text("Ada Lovelace") a.button:text-is("Convert")')])
    await page.fill('#convert-lead input[name=value]', '2500')
    await page.fill('#convert-lead input[name=currency]', 'EUR')
    await shot('lead-convert')
    await Promise.all([page.waitForURL(/\/deals\/.+\?done=converted$/), page.click('#convert-lead button[type=submit]')])
    await shot('deal')
    await open(`${base}/deals`)
    const card = page.locator('article.deal:has-text("Ada Lovelace")')
    await card.locator('select').selectOption('won')
    await Promise.all([page.waitForURL(`${api}${base}/deals?done=moved`), card.locator('button:text-is("Move")').click()])
    expect(await page.locator('.column[data-stage="won"] article.deal:has-text("Ada Lovelace")').count()).toBe(1)
    await shot('deals')

    // deal.closed reaches the receiver, signed; the delivery log shows what was sent.
    const deadline = Date.now() + 15_000
    while (received.length === 0 && Date.now() < deadline) await Bun.sleep(50)
    expect(received).toHaveLength(1)
    const event = new Webhook(secret).verify(received[0]!.body, received[0]!.headers) as { type: string; data: { deal: { title: string; value: number } } }
    expect(event).toMatchObject({ type: 'deal.closed', data: { deal: { title: 'Ada Lovelace', value: 2500 } } })
    const delivery = page.locator('article.delivery[data-event-type="deal.closed"]')
    for (let tries = 0; tries < 50; tries++) {
      await open(endpointPath)
      if ((await delivery.locator('.badge').textContent()) === 'succeeded') break
      await Bun.sleep(100)
    }
    expect(await delivery.locator('.badge').textContent()).toBe('succeeded')
    expect(await delivery.textContent()).toContain('"type": "deal.closed"')
    // Opened for the screenshot: the payload that was sent, as the receiver got it.
    await delivery.locator('summary:has-text("Payload sent")').click()
    expect(await delivery.locator('details[open]').textContent()).toContain('"title": "Ada Lovelace"')
    await shot('webhook-endpoint')

    // Export the contacts as CSV.
    await open(`${base}/contacts`)
    await shot('contacts')
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href*="contacts.csv"]')])
    // download.path() has no timeout of its own: a response that never ends must fail here, by name.
    const saved = await Promise.race([download.path(), Bun.sleep(STEP_TIMEOUT_MS).then(() => Promise.reject(new Error('the CSV download did not finish')))])
    const csv = readFileSync(saved!, 'utf8')
    expect(csv.split('\r\n')[0]).toContain('email')
    expect(csv).toContain('ada@example.com')

    // Erase the contact: gone from the list; its deal stays, unlinked.
    await page.click('main table a:has-text("Ada Lovelace")')
    await shot('contact')
    await page.check('input[name=understood]')
    await Promise.all([page.waitForURL(`${api}${base}/contacts?done=erased`), page.click('form[action$="/erase"] button[type=submit]')])
    expect(await page.textContent('main')).not.toContain('ada@example.com')
    await shot('contacts-after-erasure')

    // The audit log names every step, and who took it.
    await open(`${base}/settings/audit-log`)
    const log = (await page.textContent('main table'))!
    for (const action of ['workspace.created', 'member.invited', 'member.joined', 'key.created', 'webhook.created', 'contacts.exported', 'contact.erased'])
      expect(log).toContain(action)
    expect(await page.textContent('tr[data-action="contact.erased"]')).toContain(OWNER.email)
    expect(await page.textContent('tr[data-action="member.joined"]')).toContain(COLLEAGUE.email)
    await shot('audit-log')
  })

  test('every other page of the workspace renders at both widths, and nothing loads from outside 127.0.0.1', async () => {
    for (const [name, path] of Object.entries({
      overview: base,
      embed: `${base}/embed`,
      campaigns: `${base}/campaigns`,
      'deal-new': `${base}/deals/new`,
      import: `${base}/contacts/import`,
      'api-keys': `${base}/settings/api-keys`,
      webhooks: `${base}/settings/webhooks`,
      sources: `${base}/settings/sources`,
      'workspace-settings': `${base}/settings/workspace`,
      workspaces: '/dashboard/workspaces',
    })) {
      await open(path)
      await shot(name)
    }
    expect(requested.filter((url) => !url.startsWith('http://127.0.0.1:'))).toEqual([])
  })
})
