/** End to end: the compiled executable, copied alone into an empty folder, as a new user runs it. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureExecutable, startServer, type RunningServer } from '../exe'
import { useTestTimeout } from '../timeout'

useTestTimeout()

let dir: string
let exe: string
let server: RunningServer
let bootstrapKey: string

function cli(...args: string[]) {
  const run = Bun.spawnSync([exe, ...args], { cwd: dir, stdout: 'pipe', stderr: 'pipe' })
  return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'askad-exe-'))
  exe = join(dir, 'askad')
  copyFileSync(ensureExecutable(), exe)
  server = await startServer([exe], { cwd: dir })
  bootstrapKey = (await server.waitFor(/export ASKAD_KEY=(ask_sk_\w+)/))[1]!
}, 60_000)

afterAll(async () => {
  await server?.stop('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

describe('the executable alone in an empty folder', () => {
  test('prints its URL, dashboard and docs URLs and a bootstrap key; creates and migrates ./data/askad.db', () => {
    expect(server.output()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/)
    expect(server.output()).toMatch(/Dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboard\n/)
    expect(server.output()).toMatch(/API docs: http:\/\/127\.0\.0\.1:\d+\/docs/)
    expect(bootstrapKey).toMatch(/^ask_sk_/)
    expect(existsSync(join(dir, 'data', 'askad.db'))).toBe(true)
  })

  test('serve --json names the dashboard and docs URLs in its one line', async () => {
    const proc = Bun.spawn([exe, 'serve', '--json', '--db', join(dir, 'json.db')], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1' },
      stdout: 'pipe',
      stderr: 'inherit',
    })
    try {
      let text = ''
      const decoder = new TextDecoder()
      for await (const chunk of proc.stdout) {
        text += decoder.decode(chunk)
        if (/"listening".*\n/.test(text)) break
      }
      // Log lines share stdout; the banner is the line with "listening".
      const banner = JSON.parse(text.split('\n').find((line) => line.includes('"listening"'))!)
      expect(banner.dashboard).toBe(`${banner.listening}/dashboard`)
      expect(banner.docs).toBe(`${banner.listening}/docs`)
    } finally {
      proc.kill('SIGKILL')
      await proc.exited
    }
  })

  test("the seed document's curl example, pointed at localhost, returns 201", async () => {
    const curl = Bun.spawnSync([
      'curl',
      '-s',
      '-X',
      'POST',
      `${server.url}/api/v1/leads/inbound`,
      '-H',
      `Authorization: Bearer ${bootstrapKey}`,
      '-H',
      'Content-Type: application/json',
      '-d',
      '{\n"email": "jane@example.com",\n"first_name": "Jane",\n"last_name": "Smith",\n"phone": "+1234567890",\n"source": "hubspot",\n"metadata": { "deal_value": 5000 }\n}',
      '-w',
      '\n%{http_code}',
    ])
    const [body, status] = curl.stdout.toString().split('\n')
    expect(status).toBe('201')
    expect(JSON.parse(body!)).toMatchObject({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'created' })
  })

  test('workspace create / key create --json work against the same database while it serves', async () => {
    const ws = cli('workspace', 'create', 'acme', '--json')
    expect(ws.code).toBe(0)
    expect(JSON.parse(ws.stdout)).toMatchObject({ slug: 'acme' })
    const created = cli('key', 'create', '--workspace', 'acme', '--json')
    expect(created.code).toBe(0)
    const key = JSON.parse(created.stdout)
    expect(key.key).toMatch(/^ask_sk_\w{36}$/)
    expect(key.workspace).toBe('acme')

    const res = await fetch(`${server.url}/api/v1/leads/inbound`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'acme-lead@example.com' }),
    })
    expect(res.status).toBe(201)
    // The acme key sees only acme's contact, not the default workspace's.
    const contacts = await (await fetch(`${server.url}/api/v1/contacts`, { headers: { authorization: `Bearer ${key.key}` } })).json()
    expect(contacts.data.map((c: { email: string }) => c.email)).toEqual(['acme-lead@example.com'])

    const listed = JSON.parse(cli('key', 'list', '--workspace', 'acme', '--json').stdout)
    expect(listed).toHaveLength(1)
    expect(JSON.stringify(listed)).not.toContain(key.key)

    expect(cli('key', 'revoke', key.id, '--json').code).toBe(0)
    const after = await fetch(`${server.url}/api/v1/contacts`, { headers: { authorization: `Bearer ${key.key}` } })
    expect(after.status).toBe(401)

    // The CLI's changes are in the audit log, done by `cli`.
    const reader = JSON.parse(cli('key', 'create', '--workspace', 'acme', '--json').stdout)
    const log = await fetch(`${server.url}/api/v1/audit-log`, { headers: { authorization: `Bearer ${reader.key}` } })
    const entries: { action: string; actor: { type: string }; target: { id: string } }[] = (await log.json()).data
    expect(entries.filter((e) => e.target.id === key.id).map((e) => [e.action, e.actor.type])).toEqual([
      ['key.revoked', 'cli'],
      ['key.created', 'cli'],
    ])
  })

  test('CLI errors are clear and exit non-zero; --help and --version work everywhere', () => {
    expect(cli('--version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
    expect(cli('key', 'create', '--version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
    expect(cli('--help').stdout).toContain('workspace create')
    expect(cli('key', 'create', '--help').stdout).toContain('--workspace')
    const dup = cli('workspace', 'create', 'acme')
    expect(dup.code).toBe(1)
    expect(dup.stderr).toContain("'acme' already exists")
    expect(cli('key', 'create', '--workspace', 'nope').stderr).toContain("No workspace 'nope'")
    expect(cli('frobnicate').code).toBe(2)
    expect(cli('key', 'create', '--bogus').code).toBe(2)
    const missing = cli('backup')
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('Missing FILE.\nUsage: askad backup FILE')
    expect(cli('workspace', 'list', 'extra').code).toBe(2)
    const generated = cli('key', 'generate', '--json')
    expect(JSON.parse(generated.stdout).key).toMatch(/^ask_sk_\w{36}$/)
  })

  test('backup writes a copy that passes integrity_check', () => {
    const target = join(dir, 'backups', 'copy.db')
    const result = cli('backup', target, '--json')
    expect(result.code).toBe(0)
    const copy = new Database(target, { readonly: true })
    expect(copy.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
    expect((copy.query('select count(*) as n from leads').get() as { n: number }).n).toBe(2)
    copy.close()
    expect(cli('backup', target).code).toBe(1) // never overwrites
  })

  test('healthcheck exits 0 against the running server and 1 against a closed port', () => {
    const port = new URL(server.url).port
    expect(cli('healthcheck', '--port', port, '--host', '127.0.0.1').code).toBe(0)
    expect(cli('healthcheck', '--port', '1', '--host', '127.0.0.1').code).toBe(1)
  })

  test('no JSON log line contains a full key', () => {
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
    expect(lines.length).toBeGreaterThan(3)
    for (const line of lines) expect(line).not.toMatch(/ask_(sk|pk)_\w{36}/)
  })

  test('SIGTERM stops it cleanly with exit code 0', async () => {
    expect(await server.stop('SIGTERM')).toBe(0)
  })
})

describe('a scripted install', () => {
  test('ASKAD_BOOTSTRAP_KEY makes the first key deterministic; an invalid one is refused', async () => {
    const gen = Bun.spawnSync([exe, 'key', 'generate'], { cwd: dir }).stdout.toString().trim()
    const fresh = mkdtempSync(join(tmpdir(), 'askad-exe-boot-'))
    try {
      const s = await startServer([exe, 'serve', '--db', join(fresh, 'a.db')], { cwd: fresh, env: { ASKAD_BOOTSTRAP_KEY: gen } })
      expect((await s.waitFor(/export ASKAD_KEY=(ask_sk_\w+)/))[1]).toBe(gen)
      const res = await fetch(`${s.url}/api/v1/contacts`, { headers: { authorization: `Bearer ${gen}` } })
      expect(res.status).toBe(200)
      expect(await s.stop()).toBe(0)
      const bad = Bun.spawnSync([exe, 'serve', '--db', join(fresh, 'b.db')], {
        cwd: fresh,
        env: { PORT: '0', ASKAD_BOOTSTRAP_KEY: 'ask_sk_nope' },
        stderr: 'pipe',
      })
      expect(bad.exitCode).toBe(1)
      expect(bad.stderr.toString()).toContain('not a valid secret key')
    } finally {
      rmSync(fresh, { recursive: true, force: true })
    }
  })
})
