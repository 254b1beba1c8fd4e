/** Many processes starting together on a new or older database: every one migrates, bootstraps once, and comes up. */
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../src/db/client'
import { countRows, spawnTogether } from '../exe'
import { drizzleMigrate } from '../legacy-migrate'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')
/** Processes started at the same moment per round. */
const PROCESSES = 8
/** Rounds per case: one round loses the race only some of the time on the old code. */
const ROUNDS = 3

const dir = mkdtempSync(join(tmpdir(), 'askad-concurrent-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test(`${PROCESSES} × 'askad migrate' at once on a new database: all exit 0, each migration applied once`, async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const dbPath = join(dir, `migrate-${round}.db`)
    const runs = await spawnTogether([process.execPath, 'src/index.ts', 'migrate', '--db', dbPath], PROCESSES, { cwd: ROOT })
    for (const run of runs) expect(run.exitCode, run.stderr).toBe(0)
    expect(countRows(dbPath, 'select count(*) as n from __drizzle_migrations')).toBe(
      countRows(dbPath, 'select count(distinct hash) as n from __drizzle_migrations'),
    )
  }
}, 60_000)

/** A database as the previous release left it after `askad migrate`, before any workspace exists. */
function olderDatabase(dbPath: string): void {
  const db = openDb(dbPath)
  drizzleMigrate(db)
  db.$client.close()
}

for (const kind of ['new', 'older'] as const) {
  test(`${PROCESSES} × 'askad serve' at once on ${kind === 'new' ? 'a new' : 'an older'} database: all listen, one default workspace with one bootstrap key`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const dbPath = join(dir, `serve-${kind}-${round}.db`)
      if (kind === 'older') olderDatabase(dbPath)
      const runs = await spawnTogether([process.execPath, 'src/index.ts', 'serve', '--json', '--db', dbPath], PROCESSES, {
        cwd: ROOT,
        readyPattern: /"listening"/,
      })
      try {
        for (const run of runs) expect(run.exitCode, run.stderr).toBeNull()
        const announced = runs.filter((run) => /"bootstrap":\{/.test(run.stdout))
        expect(announced).toHaveLength(1)
        expect(countRows(dbPath, 'select count(*) as n from workspaces')).toBe(1)
        expect(countRows(dbPath, "select count(*) as n from api_keys where name = 'bootstrap'")).toBe(1)
      } finally {
        for (const run of runs) run.proc.kill('SIGTERM')
        await Promise.all(runs.map((run) => run.proc.exited))
      }
    }
  }, 90_000)
}
