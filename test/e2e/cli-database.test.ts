/**
 * The CLI and its database: only `serve` and `migrate` create one, so a command run from the wrong
 * folder (or with a mistyped --db) is refused instead of working on a new, empty database; flags may
 * come before the command.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'askad-cli-db-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs the CLI from `dir` (so the default ./data/askad.db would land there). */
function cli(args: string[], stdin = '') {
  const run = Bun.spawnSync(['bun', join(ROOT, 'src/index.ts'), ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', HOME: dir, LOG_LEVEL: 'error' },
    stdin: Buffer.from(stdin),
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: 20_000,
  })
  return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() }
}

describe('a database that does not exist', () => {
  test('backup, workspace, key and operator commands refuse it, exit non-zero and create nothing', () => {
    for (const args of [
      ['backup', join(dir, 'copy.db')],
      ['workspace', 'list'],
      ['workspace', 'create', 'acme'],
      ['key', 'list', '--workspace', 'default'],
      ['operator', 'list'],
    ]) {
      const run = cli(args)
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(`No askad database at ${join(dir, 'data', 'askad.db')}`)
      expect(run.stderr).toContain('askad migrate')
    }
    expect(cli(['operator', 'create', 'me@agency.example'], 'correct horse battery\n').code).toBe(1)
    expect(existsSync(join(dir, 'data'))).toBe(false)
    expect(existsSync(join(dir, 'copy.db'))).toBe(false)
  })

  test('--json gets the refusal as JSON', () => {
    const run = cli(['workspace', 'list', '--db', join(dir, 'typo.db'), '--json'])
    expect(run.code).toBe(1)
    expect(JSON.parse(run.stderr).error).toContain('No askad database at')
    expect(existsSync(join(dir, 'typo.db'))).toBe(false)
  })

  test('migrate creates it; then the other commands work, with flags before the command too', () => {
    const db = join(dir, 'made.db')
    expect(cli(['migrate', '--db', db]).code).toBe(0)
    expect(existsSync(db)).toBe(true)
    const made = cli(['--db', db, '--json', 'workspace', 'create', 'acme'])
    expect(made.code).toBe(0)
    expect(JSON.parse(made.stdout)).toMatchObject({ slug: 'acme' })
    const listed = cli(['--db', db, 'workspace', 'list', '--json'])
    expect(JSON.parse(listed.stdout).map((w: { slug: string }) => w.slug)).toEqual(['acme'])
    expect(cli(['--db', db, 'backup', join(dir, 'copy.db')]).code).toBe(0)
    expect(existsSync(join(dir, 'copy.db'))).toBe(true)
  })
})
