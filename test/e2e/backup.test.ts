/** `askad backup FILE` takes a consistent hot copy while the running server keeps inserting leads. */
import { afterAll, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { startServer } from '../exe'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')
const WRITERS = 4

const dir = mkdtempSync(join(tmpdir(), 'askad-backup-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('backup during continuous inserts: the copy opens, passes integrity and foreign-key checks, and has the rows', async () => {
  const dbPath = join(dir, 'live.db')
  const copyPath = join(dir, 'copies', 'askad-backup.db')
  const key = generateKey('secret')
  const server = await startServer([process.execPath, 'src/index.ts', 'serve', '--db', dbPath], {
    cwd: ROOT,
    env: { ASKAD_BOOTSTRAP_KEY: key, ASKAD_RATE_LIMIT: '1000000/60s', LOG_LEVEL: 'warn' },
  })

  let inserted = 0
  let running = true
  const failures: string[] = []
  const writer = async (w: number) => {
    for (let i = 0; running; i++) {
      const res = await fetch(`${server.url}/api/v1/leads/inbound`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: `w${w}-${i}@example.com`, first_name: 'Load', source: 'backup-test', metadata: { writer: w, i } }),
      })
      if (res.status === 201) inserted++
      else failures.push(`${res.status} ${await res.text()}`)
      await res.body?.cancel().catch(() => {})
    }
  }
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w))
  try {
    while (inserted < 200) await Bun.sleep(20)

    const before = inserted
    const backup = Bun.spawn([process.execPath, 'src/index.ts', 'backup', copyPath, '--db', dbPath, '--json'], { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
    const [code, stdout, stderr] = await Promise.all([backup.exited, new Response(backup.stdout).text(), new Response(backup.stderr).text()])
    const after = inserted
    expect(code, stderr).toBe(0)
    expect(JSON.parse(stdout)).toMatchObject({ file: copyPath, bytes: expect.any(Number) })
    // The writers really were busy while the backup ran.
    expect(after).toBeGreaterThan(before)

    const copy = new Database(copyPath, { readonly: true })
    try {
      expect(copy.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
      expect(copy.query('PRAGMA foreign_key_check').all()).toEqual([])
      const { n } = copy.query("select count(*) as n from leads where source = 'backup-test'").get() as { n: number }
      expect(n).toBeGreaterThanOrEqual(before)
      expect(n).toBeLessThanOrEqual(after)
      // One snapshot: dense sequence numbers have no holes, and every lead's contact is there.
      expect(copy.query('select count(*) as n, max(seq) as top from leads').get()).toEqual({ n, top: n })
      expect(copy.query('select count(*) as n from leads l left join contacts c on c.id = l.contact_id where c.id is null').get()).toEqual({ n: 0 })
    } finally {
      copy.close()
    }
  } finally {
    running = false
    await Promise.all(writers)
    await server.stop()
  }
  expect(failures).toEqual([])
}, 30_000)

test('restore as docs/operations.md says: stop, copy the backup over the database, start: the backed-up data is back', async () => {
  const dbPath = join(dir, 'restore.db')
  const copyPath = join(dir, 'restore-backup.db')
  const key = generateKey('secret')
  const start = () =>
    startServer([process.execPath, 'src/index.ts', 'serve', '--db', dbPath], { cwd: ROOT, env: { ASKAD_BOOTSTRAP_KEY: key, LOG_LEVEL: 'warn' } })
  const post = (url: string, email: string) =>
    fetch(`${url}/api/v1/leads/inbound`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email }),
    })
  const emails = async (url: string) =>
    ((await (await fetch(`${url}/api/v1/leads`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: { email: string }[] }).data.map(
      (l) => l.email,
    )

  let server = await start()
  try {
    expect((await post(server.url, 'kept@example.com')).status).toBe(201)
    const backup = Bun.spawnSync([process.execPath, 'src/index.ts', 'backup', copyPath, '--db', dbPath], { cwd: ROOT, stderr: 'pipe' })
    expect(backup.exitCode, backup.stderr.toString()).toBe(0)
    expect((await post(server.url, 'after-backup@example.com')).status).toBe(201)
  } finally {
    expect(await server.stop('SIGTERM')).toBe(0)
  }

  // 1. stopped (above); 2. the WAL files of the replaced database go, then the copy takes its place; 3. start.
  for (const suffix of ['-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true })
  copyFileSync(copyPath, dbPath)
  server = await start()
  try {
    expect(await emails(server.url)).toEqual(['kept@example.com'])
    expect((await post(server.url, 'after-restore@example.com')).status).toBe(201)
  } finally {
    await server.stop('SIGTERM')
  }
  const restored = new Database(dbPath, { readonly: true })
  try {
    expect(restored.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
  } finally {
    restored.close()
  }
}, 30_000)
