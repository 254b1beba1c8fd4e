/**
 * Another process holds SQLite's write lock (`BEGIN IMMEDIATE`, as a long CLI command or a backup tool
 * might) while clients read, write and probe /healthz. Reads and /healthz must keep answering fast;
 * writes must answer 503 + Retry-After within the bound, and work again once the lock is released.
 * `test/e2e/storage-faults.test.ts` holds it for a few seconds; run this for the long version:
 * bun test/bench/lock-hold.ts [hold-seconds]
 */
import { Database } from 'bun:sqlite'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { startServer, type RunningServer } from '../exe'
import { percentile, printTable, tempDir } from './lib'

const ROOT = join(import.meta.dir, '..', '..')
/** Pause between two samples of one poller. */
const SAMPLE_EVERY_MS = 20

export interface LockTarget {
  dir: string
  dbPath: string
  key: string
  url: string
  server: RunningServer
  pushLead(email: string): Promise<Response>
}

/** Starts `bun src/index.ts serve` on a fresh database. */
export async function startLockTarget(): Promise<LockTarget> {
  const dir = tempDir('lock-hold')
  const dbPath = join(dir, 'askad.db')
  const key = generateKey('secret')
  const server = await startServer([process.execPath, join(ROOT, 'src', 'index.ts'), 'serve'], {
    cwd: dir,
    env: { ASKAD_DB: dbPath, ASKAD_BOOTSTRAP_KEY: key, ASKAD_RATE_LIMIT: '1000000000/1s', LOG_LEVEL: 'error' },
  })
  const pushLead = (email: string) =>
    fetch(`${server.url}/api/v1/leads/inbound`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email, source: 'lock-hold' }),
    })
  return { dir, dbPath, key, url: server.url, server, pushLead }
}

/** Takes the write lock from a second connection (as another process would) until release(). */
export function holdWriteLock(dbPath: string): { release(): void } {
  const other = new Database(dbPath)
  other.exec('BEGIN IMMEDIATE')
  return {
    release() {
      other.exec('ROLLBACK')
      other.close()
    },
  }
}

/** GETs a URL every SAMPLE_EVERY_MS for `durationMs`, recording latencies and statuses. */
export async function sample(url: string, headers: Record<string, string>, durationMs: number) {
  const latencies: number[] = []
  const statuses: number[] = []
  const deadline = performance.now() + durationMs
  while (performance.now() < deadline) {
    const t0 = performance.now()
    const res = await fetch(url, { headers })
    await res.arrayBuffer()
    latencies.push(performance.now() - t0)
    statuses.push(res.status)
    await Bun.sleep(SAMPLE_EVERY_MS)
  }
  latencies.sort((a, b) => a - b)
  return { latencies, statuses }
}

function counts(statuses: number[]): string {
  const by = new Map<number, number>()
  for (const s of statuses) by.set(s, (by.get(s) ?? 0) + 1)
  return [...by].map(([s, n]) => `${s}×${n}`).join(' ')
}

if (import.meta.main) {
  const holdMs = Number(process.argv[2] ?? 10) * 1000
  const target = await startLockTarget()
  console.log(`lock-hold: BEGIN IMMEDIATE held ${holdMs / 1000} s by a second connection, database ${target.dbPath}`)
  const lock = holdWriteLock(target.dbPath)
  const writes: { status: number; ms: number; retryAfter: string }[] = []
  const writer = (async () => {
    const deadline = performance.now() + holdMs
    for (let i = 0; performance.now() < deadline; i++) {
      const t0 = performance.now()
      const res = await target.pushLead(`hold${i}@example.com`)
      await res.arrayBuffer()
      writes.push({ status: res.status, ms: performance.now() - t0, retryAfter: res.headers.get('retry-after') ?? '' })
    }
  })()
  const [health, reads] = await Promise.all([
    sample(`${target.url}/healthz`, {}, holdMs),
    sample(`${target.url}/api/v1/leads`, { authorization: `Bearer ${target.key}` }, holdMs),
    writer,
  ])
  lock.release()
  const after = await target.pushLead('released@example.com')
  const healthAfter = await fetch(`${target.url}/healthz`)
  await target.server.stop()
  rmSync(target.dir, { recursive: true, force: true })
  const writeMs = writes.map((w) => w.ms).sort((a, b) => a - b)
  printTable(`lock-hold: ${holdMs / 1000} s write lock held by another connection`, [
    {
      what: 'GET /healthz',
      requests: health.latencies.length,
      statuses: counts(health.statuses),
      'p50 ms': percentile(health.latencies, 50),
      'p99 ms': percentile(health.latencies, 99),
      'max ms': health.latencies.at(-1) ?? 0,
    },
    {
      what: 'GET /api/v1/leads',
      requests: reads.latencies.length,
      statuses: counts(reads.statuses),
      'p50 ms': percentile(reads.latencies, 50),
      'p99 ms': percentile(reads.latencies, 99),
      'max ms': reads.latencies.at(-1) ?? 0,
    },
    {
      what: 'POST /api/v1/leads/inbound',
      requests: writes.length,
      statuses: counts(writes.map((w) => w.status)),
      'p50 ms': percentile(writeMs, 50),
      'p99 ms': percentile(writeMs, 99),
      'max ms': writeMs.at(-1) ?? 0,
    },
  ])
  console.log(`\nRetry-After on the refused writes: ${[...new Set(writes.map((w) => w.retryAfter))].join(', ') || '(none)'}`)
  console.log(`after release: POST → ${after.status}, /healthz → ${healthAfter.status}`)
  process.exit(0)
}
