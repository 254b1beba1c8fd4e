/** The docs page and the dashboard serve their assets and pages with one set of headers (plugins/web-page.ts). */
import { afterAll, expect, test } from 'bun:test'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

test('every embedded asset is cached for a year and never content-sniffed, docs and dashboard alike', async () => {
  for (const path of ['/docs/assets/swagger-ui.css', '/docs/assets/init.js', '/dashboard/assets/dashboard.css', '/dashboard/assets/dashboard.js']) {
    const res = await h.request('GET', path)
    expect({ path, status: res.status }).toEqual({ path, status: 200 })
    expect({ path, cache: res.headers.get('cache-control'), sniff: res.headers.get('x-content-type-options') }).toEqual({
      path,
      cache: 'public, max-age=31536000, immutable',
      sniff: 'nosniff',
    })
  }
})

test('both pages share the base Content-Security-Policy: nothing from elsewhere, no framing', async () => {
  for (const path of ['/docs', '/dashboard/sign-in']) {
    const csp = (await h.request('GET', path)).headers.get('content-security-policy') ?? ''
    for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "base-uri 'none'", "frame-ancestors 'none'"]) {
      expect({ path, directive, present: csp.includes(directive) }).toEqual({ path, directive, present: true })
    }
  }
})
