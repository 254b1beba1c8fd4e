/**
 * Every test file sets its own time limit (test/timeout.ts): bun 1.4 drops a preload's limit after the
 * first file, so a file without the call runs at bun's 5 s and fails only when the machine is loaded.
 */
import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { Glob } from 'bun'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const SETS_ITS_LIMIT = /^(useTestTimeout|setDefaultTimeout)\(/m

test('every test file sets its time limit at its top level', () => {
  const files = [...new Glob('**/*.test.ts').scanSync({ cwd: 'test' })]
  expect(files.length).toBeGreaterThan(50)
  const without = files.filter((file) => !SETS_ITS_LIMIT.test(readFileSync(`test/${file}`, 'utf8')))
  expect(without).toEqual([])
})

test('the limit holds beyond the first file of a run: this test outlasts bun’s default 5 s', async () => {
  await Bun.sleep(5_500)
})
