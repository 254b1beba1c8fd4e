/**
 * Concurrent start: N processes (`migrate`, then `serve`) started at the same moment on a new or an
 * older database, over several trials; prints how many trials had a process fail, per case.
 * Usage: bun test/bench/concurrent-start.ts [processes=20] [trials=10] [askad root, default this checkout]
 * (run it once with the root of an older checkout to get the "before" column).
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { openDb } from '../../src/db/client'
import { countRows, spawnTogether } from '../exe'
import { drizzleMigrate } from '../legacy-migrate'
import { printTable, tempDir } from './lib'

const PROCESSES = Number(process.argv[2] ?? 20)
const TRIALS = Number(process.argv[3] ?? 10)
const ROOT = process.argv[4] ?? join(import.meta.dir, '..', '..')

type Case = { name: string; command: string; database: 'new' | 'older' }
const CASES: Case[] = [
  { name: 'migrate, new db', command: 'migrate', database: 'new' },
  { name: 'serve, new db', command: 'serve', database: 'new' },
  { name: 'serve, older db', command: 'serve', database: 'older' },
]

const rows: Record<string, string | number>[] = []
for (const c of CASES) {
  let failedTrials = 0
  let failedProcesses = 0
  let wrongBootstrap = 0
  let firstError = ''
  for (let trial = 0; trial < TRIALS; trial++) {
    const dir = tempDir('concurrent-start')
    const dbPath = join(dir, 'askad.db')
    if (c.database === 'older') {
      const db = openDb(dbPath)
      drizzleMigrate(db)
      db.$client.close()
    }
    const serve = c.command === 'serve'
    const cmd = [process.execPath, join(ROOT, 'src/index.ts'), c.command, '--db', dbPath, ...(serve ? ['--json'] : [])]
    const runs = await spawnTogether(cmd, PROCESSES, { cwd: ROOT, readyPattern: serve ? /"listening"/ : undefined, timeoutMs: 60_000 })
    const failed = runs.filter((run) => run.exitCode !== (serve ? null : 0))
    if (serve) {
      for (const run of runs) run.proc.kill('SIGTERM')
      await Promise.all(runs.map((run) => run.proc.exited))
      if (
        countRows(dbPath, 'select count(*) as n from workspaces') !== 1 ||
        countRows(dbPath, "select count(*) as n from api_keys where name = 'bootstrap'") !== 1
      )
        wrongBootstrap++
    }
    if (failed.length) {
      failedTrials++
      failedProcesses += failed.length
      firstError ||= failed[0]!.stderr.trim().split('\n')[0]!.slice(0, 90)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  rows.push({
    case: c.name,
    processes: PROCESSES,
    trials: TRIALS,
    'trials with a failure': `${failedTrials}/${TRIALS}`,
    'processes failed': `${failedProcesses}/${PROCESSES * TRIALS}`,
    'bootstrap ≠ 1': wrongBootstrap,
    'first error': firstError || '-',
  })
}
printTable(`Concurrent start of ${PROCESSES} processes (${ROOT})`, rows)
