/**
 * Operators through the real CLI and server: `askad operator create|list|password` (the password
 * from stdin, hashed with argon2id, never printed), and the first-run setup link `serve` prints
 * while no operator exists (single use, gone after a restart).
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer } from '../exe'

// Each test runs several processes, each hashing with argon2id: slow on a busy machine.
setDefaultTimeout(90_000)

const ROOT = join(import.meta.dir, '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'askad-operators-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const PASSWORD = 'correct horse battery'

/** Runs the CLI on a database with `stdin` piped in; returns its exit code and output. */
function cli(db: string, args: string[], stdin = '') {
  const run = Bun.spawnSync(['bun', 'src/index.ts', ...args, '--db', db], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'error' },
    stdin: Buffer.from(stdin),
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: 20_000,
  })
  return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() }
}

function operatorRows(db: string) {
  const sqlite = new Database(db, { readonly: true })
  try {
    return sqlite.query('SELECT id, email, password_hash AS hash FROM operators').all() as { id: string; email: string; hash: string }[]
  } finally {
    sqlite.close()
  }
}

const form = (origin: string, fields: Record<string, string>) => ({
  method: 'POST',
  body: new URLSearchParams(fields),
  headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
  redirect: 'manual' as const,
})

describe('askad operator', () => {
  const db = join(dir, 'cli.db')

  test('create: the password from stdin, stored as an argon2id hash, never printed; --json; the email normalized', () => {
    // Before the first start: `migrate` makes the database (no other command creates one).
    expect(cli(db, ['migrate']).code).toBe(0)
    const run = cli(db, ['operator', 'create', '  Boss@Agency.Example ', '--json'], `${PASSWORD}\n`)
    expect(run.code).toBe(0)
    const shown = JSON.parse(run.stdout)
    expect(shown).toMatchObject({ id: expect.any(String), email: 'boss@agency.example', last_sign_in_at: null })
    expect(Object.keys(shown)).not.toContain('password_hash')
    expect(run.stdout + run.stderr).not.toContain(PASSWORD)
    const [row] = operatorRows(db)
    expect(row!.email).toBe('boss@agency.example')
    expect(row!.hash).toStartWith('$argon2id$')
    expect(Bun.password.verifySync(PASSWORD, row!.hash)).toBe(true)
  })

  test('a short or an over-long password, a taken email and a bad email are clear errors; nothing is stored', () => {
    const short = cli(db, ['operator', 'create', 'short@agency.example'], 'short\n')
    expect(short.code).toBe(1)
    expect(short.stderr).toContain('at least 10 characters')
    const long = cli(db, ['operator', 'create', 'long@agency.example'], `${'x'.repeat(201)}\n`)
    expect(long.code).toBe(1)
    expect(long.stderr).toContain('at most 200 bytes')
    const taken = cli(db, ['operator', 'create', 'BOSS@agency.example'], `${PASSWORD}\n`)
    expect(taken.code).toBe(1)
    expect(taken.stderr).toContain('already exists')
    const bad = cli(db, ['operator', 'create', 'not-an-email'], `${PASSWORD}\n`)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('email')
    expect(operatorRows(db)).toHaveLength(1)
    expect(cli(db, ['operator', 'create'], `${PASSWORD}\n`).code).toBe(2)
  })

  test('list shows emails, never hashes; password sets a new one', () => {
    const list = cli(db, ['operator', 'list', '--json'])
    expect(list.code).toBe(0)
    expect(JSON.parse(list.stdout).map((o: { email: string }) => o.email)).toEqual(['boss@agency.example'])
    expect(list.stdout).not.toContain('argon2')
    const before = operatorRows(db)[0]!.hash
    const reset = cli(db, ['operator', 'password', 'boss@agency.example'], 'a brand new password\n')
    expect(reset.code).toBe(0)
    expect(reset.stdout + reset.stderr).not.toContain('a brand new password')
    const after = operatorRows(db)[0]!.hash
    expect(after).not.toBe(before)
    expect(Bun.password.verifySync('a brand new password', after)).toBe(true)
    expect(cli(db, ['operator', 'password', 'nobody@agency.example'], 'a brand new password\n').code).toBe(1)
    expect(cli(db, ['operator', 'help']).stderr).toContain('askad operator create EMAIL')
  })

  test('an operator made before the first start owns the bootstrap workspace; serve prints no setup link then', async () => {
    const server = await startServer(['bun', 'src/index.ts', 'serve', '--db', db], { cwd: ROOT })
    try {
      await server.waitFor(/export ASKAD_KEY=/)
      expect(server.output()).not.toContain('/dashboard/setup')
      const signIn = await fetch(
        `${server.url}/dashboard/sign-in`,
        form(server.url, { email: 'boss@agency.example', password: 'a brand new password', next: '/dashboard' }),
      )
      expect(signIn.status).toBe(303)
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!
      const home = await fetch(`${server.url}/dashboard`, { headers: { cookie }, redirect: 'manual' })
      expect(home.headers.get('location')).toBe('/dashboard/w/default')
      expect((await fetch(`${server.url}/dashboard/w/default/settings/members`, { headers: { cookie } })).status).toBe(200)
    } finally {
      await server.stop()
    }
  })

  test('workspace create --owner EMAIL: that operator owns the new workspace; an unknown email creates nothing', () => {
    const made = cli(db, ['workspace', 'create', 'acme', '--owner', 'BOSS@agency.example', '--json'])
    expect(made.code).toBe(0)
    expect(JSON.parse(made.stdout)).toMatchObject({ slug: 'acme', owner: 'boss@agency.example' })
    const sqlite = new Database(db, { readonly: true })
    try {
      const roles = sqlite
        .query(
          "SELECT m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id JOIN operators o ON o.id = m.operator_id WHERE w.slug = 'acme' AND o.email = 'boss@agency.example'",
        )
        .all()
      expect(roles).toEqual([{ role: 'owner' }])
    } finally {
      sqlite.close()
    }
    const unknown = cli(db, ['workspace', 'create', 'globex', '--owner', 'nobody@agency.example'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain("No operator with email 'nobody@agency.example'")
    expect(JSON.parse(cli(db, ['workspace', 'list', '--json']).stdout).map((w: { slug: string }) => w.slug)).not.toContain('globex')
  })
})

describe('first-run setup', () => {
  test('serve prints a one-time setup link while no operator exists; it creates the owner once; then a restart prints none', async () => {
    const db = join(dir, 'setup.db')
    let server = await startServer(['bun', 'src/index.ts', 'serve', '--db', db], { cwd: ROOT })
    try {
      const [, token] = await server.waitFor(/\/dashboard\/setup\?token=([\w-]+)/)
      // Run from a clone, the hint names the command that works there (the executable says `askad`).
      expect(server.output()).toContain('or run bun src/index.ts operator create EMAIL')
      expect((await fetch(`${server.url}/dashboard/setup?token=wrong`)).status).toBe(404)
      expect((await fetch(`${server.url}/dashboard/setup?token=${token}`)).status).toBe(200)
      const weak = await fetch(`${server.url}/dashboard/setup`, form(server.url, { token: token!, email: 'first@agency.example', password: 'short' }))
      expect(weak.status).toBe(422)
      expect(await weak.text()).toContain('at least 10 characters')
      const made = await fetch(`${server.url}/dashboard/setup`, form(server.url, { token: token!, email: 'first@agency.example', password: PASSWORD }))
      expect(made.status).toBe(303)
      const cookie = made.headers.get('set-cookie')!.split(';')[0]!
      expect((await fetch(`${server.url}/dashboard`, { headers: { cookie }, redirect: 'manual' })).headers.get('location')).toBe('/dashboard/w/default')
      const again = await fetch(`${server.url}/dashboard/setup`, form(server.url, { token: token!, email: 'second@agency.example', password: PASSWORD }))
      expect(again.status).toBe(404)
      expect((await fetch(`${server.url}/dashboard/setup?token=${token}`)).status).toBe(404)
      expect(operatorRows(db).map((o) => o.email)).toEqual(['first@agency.example'])
    } finally {
      await server.stop()
    }
    // With an operator in place a restart prints no link at all.
    server = await startServer(['bun', 'src/index.ts', 'serve', '--db', db], { cwd: ROOT })
    try {
      await server.waitFor(/listening on/)
      await Bun.sleep(200)
      expect(server.output()).not.toContain('/dashboard/setup')
    } finally {
      await server.stop()
    }
  })
})
