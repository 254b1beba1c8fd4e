/** The system's Chromium for browser tests (playwright-core, never a downloaded browser). */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

const CHROMIUM = '/usr/bin/chromium'

/** True when Debian's Chromium is installed; otherwise says loudly which tests are skipped. */
export function chromiumAvailable(what: string): boolean {
  if (existsSync(CHROMIUM)) return true
  console.warn(
    `\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n` +
      `!!! SKIPPING ${what}: ${CHROMIUM} is missing.\n` +
      `!!! Install it (Debian/Ubuntu: apt-get install -y chromium) to run them.\n` +
      `!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n`,
  )
  return false
}

/** Headless Chromium with no background networking (this machine's network is closed). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}
