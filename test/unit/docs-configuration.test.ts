/**
 * docs/configuration.md lists every setting the code reads, by variable and flag, and no other ASKAD_ variable;
 * no other page names an ASKAD_ variable askad does not read either (a reader takes the prefix for a setting).
 */
import { expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SETTINGS } from '../../src/config'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')
const PAGE = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8')
/** ASKAD_ names that are not settings: the key the first start tells the user to export, the test suite's own. */
const NOT_SETTINGS = new Set(['ASKAD_KEY', 'ASKAD_TEST_ENGINE', 'ASKAD_TEST_PG'])

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

test('no page of the README or docs/ names an ASKAD_ variable that is not a setting', () => {
  const known = new Set<string>([...SETTINGS.map((s) => s.env), ...NOT_SETTINGS])
  const pages = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ]
  const unknown = pages.flatMap((page) =>
    [...new Set(readFileSync(join(ROOT, page), 'utf8').match(/\bASKAD_[A-Z_]+\b/g))].filter((name) => !known.has(name)).map((name) => `${page}: ${name}`),
  )
  expect(unknown).toEqual([])
})
