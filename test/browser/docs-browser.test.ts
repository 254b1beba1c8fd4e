/**
 * /docs in the system's headless Chromium (playwright-core, never a downloaded browser): the
 * operation list renders, "Try it out" leaves Idempotency-Key empty, the problem types are listed,
 * and every request the page makes goes to this server on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { chromiumAvailable, launchChromium } from '../browser'
import { createHarness, type Harness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const hasChromium = chromiumAvailable('the /docs browser test')

describe.skipIf(!hasChromium)('/docs in headless Chromium', () => {
  let h: Harness
  let browser: Browser
  let origin: string

  beforeAll(async () => {
    h = createHarness()
    h.app.listen({ hostname: '127.0.0.1', port: 0 })
    origin = `http://127.0.0.1:${h.app.server!.port}`
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await h?.app.stop(true)
    h?.close()
  })

  test('renders the operation list from local assets only; no request leaves 127.0.0.1', async () => {
    const page = await browser.newPage()
    const requested: string[] = []
    const problems: string[] = []
    page.on('request', (request) => void requested.push(request.url()))
    page.on('requestfailed', (request) => void problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`))
    page.on('pageerror', (error) => void problems.push(`page error: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
    // Anything not aimed at our server is refused and recorded, so a stray CDN link fails loudly instead of hanging.
    await page.route('**/*', (route) => (route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort()))

    await page.goto(`${origin}/docs`, { waitUntil: 'load' })
    await page.getByText('Push a lead').first().waitFor({ timeout: 15_000 })
    await page.waitForLoadState('networkidle')

    expect(await page.locator('.opblock').count()).toBeGreaterThan(10)
    for (const summary of ['Push a lead', 'Health check']) expect(await page.getByText(summary).count()).toBeGreaterThan(0)
    expect(await page.locator('.opblock-tag').allInnerTexts()).toEqual(
      expect.arrayContaining([expect.stringContaining('Leads'), expect.stringContaining('Contacts')]),
    )
    // The bearer scheme is offered ("Authorize"), and the validator badge is absent.
    expect(await page.locator('.btn.authorize').count()).toBe(1)
    expect(await page.locator('.validator-badge, img[src*="validator"]').count()).toBe(0)

    // "Try it out" must not pre-fill Idempotency-Key: a fixed key would replay the first lead for 24 h.
    const inbound = page.locator('.opblock-post', { hasText: '/api/v1/leads/inbound' }).first()
    await inbound.locator('.opblock-summary').click()
    await inbound.locator('button.try-out__btn').click()
    const idempotencyKey = inbound.locator('tr[data-param-name="Idempotency-Key"] input')
    await idempotencyKey.waitFor({ timeout: 5_000 })
    expect(await idempotencyKey.inputValue()).toBe('')
    // The problem types' section is on the page, under the anchors the problems' `type` URIs name, and
    // following such a URI lands on its entry although Swagger UI renders above it and rewrites the hash.
    expect(await page.locator('#problem-rate-limited').isVisible()).toBe(true)
    // A fresh page: on this one the same URL with another hash would only scroll, not load.
    const linked = await browser.newPage()
    await linked.route('**/*', (route) => (route.request().url().startsWith(`${origin}/`) ? route.continue() : route.abort()))
    await linked.goto(`${origin}/docs#problem-rate-limited`, { waitUntil: 'load' })
    await linked.waitForFunction(
      () => {
        const top = document.getElementById('problem-rate-limited')?.getBoundingClientRect().top
        return top !== undefined && top >= 0 && top < window.innerHeight && document.querySelectorAll('.opblock').length > 10
      },
      undefined,
      { timeout: 15_000 },
    )
    expect(new URL(linked.url()).hash).toBe('#problem-rate-limited')
    await linked.close()

    expect(requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'))).toEqual([])
    expect(requested).toContain(`${origin}/openapi.json`)
    expect(problems).toEqual([])
    await page.close()
  }, 60_000)
})
