/** docs/configuration.md lists every setting the code reads, by variable and flag, and no other ASKAD_ variable. */
import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SETTINGS } from '../../src/config'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const PAGE = readFileSync(join(import.meta.dir, '..', '..', 'docs', 'configuration.md'), 'utf8')

test('every setting has its row: variable and flag', () => {
  const rows = PAGE.split('\n').filter((line) => line.startsWith('| `'))
  for (const { env, flag } of SETTINGS) {
    expect(
      rows.some((row) => row.startsWith(`| \`${env}\` | \`--${flag}\` |`)),
      `${env} / --${flag}`,
    ).toBe(true)
  }
})

test('the page names no ASKAD_ variable the code does not read', () => {
  const known = new Set<string>(SETTINGS.map((s) => s.env))
  const named = new Set(PAGE.match(/\bASKAD_[A-Z_]+\b/g))
  expect([...named].filter((name) => !known.has(name))).toEqual([])
})
