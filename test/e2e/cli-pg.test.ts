/** The data commands of the CLI against a real PostgreSQL URL (`--db postgres://…` or ASKAD_DB), as processes. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { skipUnlessPg, testDatabase, type TestDatabase } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ENTRY = join(import.meta.dir, '..', '..', 'src', 'index.ts')
/** A command that does not exit (a pool left open) fails the test instead of hanging it. */
const COMMAND_TIMEOUT_MS = 20_000

describe.skipIf(skipUnlessPg('CLI on PostgreSQL'))('askad CLI on PostgreSQL', () => {
  let database: TestDatabase

  beforeAll(async () => {
    database = await testDatabase()
  })
  afterAll(() => database.drop())

  function askad(args: string[], env: Record<string, string> = {}) {
    const run = Bun.spawnSync(['bun', ENTRY, ...args], {
      env: { ...process.env, ASKAD_DB: '', ...env },
      stdout: 'pipe',
      stderr: 'pipe',
      timeout: COMMAND_TIMEOUT_MS,
    })
    return { code: run.exitCode, signal: run.signalCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() }
  }
  const json = (args: string[]) => {
    const run = askad([...args, '--db', database.url, '--json'])
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    return JSON.parse(run.stdout)
  }

  test('migrate, workspace create|list, key create|list|revoke: each migrates, runs, and exits', () => {
    expect(json(['migrate'])).toEqual({ migrated: true, db: database.url })
    const ws = json(['workspace', 'create', 'acme', '--name', 'Acme'])
    expect(ws).toMatchObject({ slug: 'acme', name: 'Acme' })
    const taken = askad(['workspace', 'create', 'acme', '--db', database.url])
    expect(taken.code).toBe(1)
    expect(taken.stderr).toContain("Workspace 'acme' already exists.")
    expect(json(['workspace', 'list']).map((w: { slug: string }) => w.slug)).toEqual(['acme'])

    const created = json(['key', 'create', '--workspace', 'acme', '--scopes', 'leads:read', '--name', 'reader'])
    expect(created.key).toStartWith('ask_sk_')
    expect(created).toMatchObject({ workspace: 'acme', scopes: ['leads:read'], revoked_at: null })
    const listed = json(['key', 'list', '--workspace', ws.id])
    expect(listed.map((k: { id: string }) => k.id)).toEqual([created.id])
    expect(JSON.stringify(listed)).not.toContain(created.key)

    expect(json(['key', 'revoke', created.id]).revoked_at).not.toBeNull()
    const missing = askad(['key', 'revoke', 'nope', '--db', database.url])
    expect(missing.code).toBe(1)
  })

  test('operator create|list|password: the password from stdin, an argon2id hash, owner of every workspace', async () => {
    const run = Bun.spawnSync(['bun', ENTRY, 'operator', 'create', 'Boss@Agency.Example', '--db', database.url, '--json'], {
      env: { ...process.env, ASKAD_DB: '' },
      stdin: Buffer.from('correct horse battery\n'),
      stdout: 'pipe',
      stderr: 'pipe',
      timeout: COMMAND_TIMEOUT_MS,
    })
    expect(run.exitCode).toBe(0)
    expect(run.stdout.toString()).not.toContain('correct horse battery')
    const made = JSON.parse(run.stdout.toString())
    expect(made.email).toBe('boss@agency.example')
    expect(json(['operator', 'list']).map((o: { email: string }) => o.email)).toEqual(['boss@agency.example'])
    const sql = new Bun.SQL(database.url)
    try {
      const [row] = await sql`SELECT password_hash FROM operators WHERE id = ${made.id}`
      expect(row.password_hash).toStartWith('$argon2id$')
      const owned = await sql`SELECT w.slug, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id WHERE m.operator_id = ${made.id}`
      expect(owned.map((r: { slug: string; role: string }) => [r.slug, r.role])).toEqual([['acme', 'owner']])
    } finally {
      await sql.close()
    }
  })

  test('ASKAD_DB=postgres://… selects PostgreSQL too', () => {
    const run = askad(['workspace', 'list', '--json'], { ASKAD_DB: database.url })
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout).map((w: { slug: string }) => w.slug)).toContain('acme')
  })

  test('backup on PostgreSQL refuses and points to pg_dump, without showing the password', () => {
    const url = new URL(database.url)
    url.password = 'hunter2'
    const run = askad(['backup', '/tmp/never-written.db', '--db', url.toString()])
    expect(run.code).not.toBe(0)
    expect(run.stderr).toContain('pg_dump')
    expect(run.stderr).not.toContain('hunter2')
  })

  test('secrets encrypt and rotate work on PostgreSQL: the stored secret is sealed, then sealed with the new key', async () => {
    const pg = new Bun.SQL(database.url, { max: 1 })
    try {
      const [ws] = await pg`SELECT id FROM workspaces WHERE slug = 'acme'`
      await pg`INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, headers, created_at, updated_at)
        VALUES ('ep-secrets', ${ws.id}, 'https://crm.example/hook', '[]', 'whsec_plain', '{"X-Token":"t0ken"}', 1, 1)`
      const oldKey = Buffer.alloc(32, 1).toString('base64')
      const newKey = Buffer.alloc(32, 2).toString('base64')
      const encrypt = askad(['secrets', 'encrypt', '--db', database.url, '--json'], { ASKAD_SECRET_KEY: oldKey })
      expect(encrypt.stderr).toBe('')
      expect(JSON.parse(encrypt.stdout)).toMatchObject({ endpoints: 1 })
      const [sealed] = await pg`SELECT secret, headers FROM webhook_endpoints WHERE id = 'ep-secrets'`
      expect(sealed.secret).toStartWith('enc:v1:')
      expect(sealed.headers).not.toContain('t0ken')
      const rotate = askad(['secrets', 'rotate', '--new-key', newKey, '--db', database.url, '--json'], { ASKAD_SECRET_KEY: oldKey })
      expect(rotate.code).toBe(0)
      const [rotated] = await pg`SELECT secret FROM webhook_endpoints WHERE id = 'ep-secrets'`
      expect(rotated.secret).toStartWith('enc:v1:')
      expect(rotated.secret).not.toBe(sealed.secret)
      // The old key no longer opens it: encrypting again with the old key is refused.
      expect(askad(['secrets', 'encrypt', '--db', database.url], { ASKAD_SECRET_KEY: oldKey }).code).not.toBe(0)
    } finally {
      await pg.close()
    }
  })
})
