/**
 * ASKAD_DURABILITY on the real executable: with `full` (the default) acknowledged writes wait for an
 * fsync of the WAL, shared by concurrent writers; with `normal` none is made. Power loss cannot be
 * staged here, so the fsyncs are counted (/metrics); a value that is neither is refused at start.
 */
import { afterAll, expect, test } from 'bun:test'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { ensureExecutable, startServer } from '../exe'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const dir = mkdtempSync(join(tmpdir(), 'askad-durability-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const exe = ensureExecutable()
const ROOT = join(import.meta.dir, '..', '..')
const LEADS = 40
let servers = 0

async function syncsAfterLeads(durability: string | undefined): Promise<number> {
  const { syncs } = await afterLeads(durability)
  return syncs
}

/** Posts LEADS leads at once to a fresh server; its WAL fsyncs and checkpoint-thread checkpoints then. */
async function afterLeads(
  durability: string | undefined,
  executable = exe,
  db = join(dir, `${durability ?? 'default'}-${++servers}.db`),
): Promise<{ syncs: number; checkpoints: number }> {
  const key = generateKey('secret')
  const env: Record<string, string> = {
    ASKAD_DB: db,
    ASKAD_BOOTSTRAP_KEY: key,
    LOG_LEVEL: 'warn',
    ASKAD_RATE_LIMIT: '1000/1s',
  }
  if (durability) env.ASKAD_DURABILITY = durability
  const server = await startServer([executable, 'serve'], { cwd: dir, env })
  try {
    const statuses = await Promise.all(
      Array.from({ length: LEADS }, (_, i) =>
        fetch(`${server.url}/api/v1/leads/inbound`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ email: `d${i}@example.com`, source: 'durability' }),
        }).then((res) => res.status),
      ),
    )
    expect(statuses).toEqual(Array(LEADS).fill(201))
    // The checkpoint thread runs shortly after commits.
    const deadline = Date.now() + 5_000
    for (;;) {
      const metrics = await (await fetch(`${server.url}/metrics`)).text()
      const read = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1])
      const result = { syncs: read('askad_wal_syncs_total'), checkpoints: read('askad_wal_checkpoints_total') }
      if (result.checkpoints > 0 || Date.now() > deadline) return result
      await Bun.sleep(50)
    }
  } finally {
    await server.stop()
  }
}

test('full (the default) fsyncs the WAL before acknowledging, concurrent leads sharing fsyncs', async () => {
  for (const durability of [undefined, 'full']) {
    const syncs = await syncsAfterLeads(durability)
    expect(syncs).toBeGreaterThanOrEqual(1)
    expect(syncs).toBeLessThan(LEADS)
  }
}, 60_000)

test('full on a database reached through a symlink acknowledges leads, syncing the WAL SQLite writes beside the real file', async () => {
  mkdirSync(join(dir, 'volume'))
  symlinkSync(join(dir, 'volume', 'real.db'), join(dir, 'linked.db'))
  // afterLeads expects every lead answered 201: the WAL beside the link does not exist (it was a 503 each, the lead stored).
  expect((await afterLeads('full', exe, join(dir, 'linked.db'))).syncs).toBeGreaterThanOrEqual(1)
}, 30_000)

test("full: the first start's workspace and key, shown once in the banner, are on disk before it shows them", async () => {
  const server = await startServer([exe, 'serve'], { cwd: dir, env: { ASKAD_DB: join(dir, `bootstrap-${++servers}.db`) } })
  try {
    await server.waitFor(/export ASKAD_KEY=/)
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(Number(/^askad_wal_syncs_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1)
  } finally {
    await server.stop()
  }
}, 30_000)

test('normal makes no fsync of its own', async () => {
  expect(await syncsAfterLeads('normal')).toBe(0)
}, 30_000)

/**
 * The executable as the Docker image or a release has it: built (by package.json's build script) from
 * a copy of the sources that is gone when it runs, so nothing it needs may come from the build's folder.
 */
function buildFromVanishedCopy(): string {
  const copy = mkdtempSync(join(tmpdir(), 'askad-build-'))
  const out = join(dir, 'askad-built-elsewhere')
  try {
    for (const entry of ['src', 'drizzle', 'package.json', 'tsconfig.json']) cpSync(join(ROOT, entry), join(copy, entry), { recursive: true })
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'))
    const script: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.build
    const build = Bun.spawnSync(script.replace('--outfile dist/askad', `--outfile ${out}`).split(' '), { cwd: copy, stdout: 'pipe', stderr: 'pipe' })
    if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`)
  } finally {
    rmSync(copy, { recursive: true, force: true })
  }
  return out
}

test('the executable checkpoints the WAL on its own embedded checkpoint thread, away from the folder it was built in', async () => {
  expect((await afterLeads('normal', buildFromVanishedCopy())).checkpoints).toBeGreaterThanOrEqual(1)
}, 60_000)

test('an unknown durability is refused at start with the values it takes', () => {
  const run = Bun.spawnSync([exe, 'serve'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', ASKAD_DB: join(dir, 'x.db'), ASKAD_DURABILITY: 'paranoid' },
    stderr: 'pipe',
  })
  expect(run.exitCode).not.toBe(0)
  expect(run.stderr.toString()).toContain("Invalid durability 'paranoid': use full or normal")
})
