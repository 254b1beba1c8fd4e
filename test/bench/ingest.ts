/**
 * Ingest benchmark: POST /api/v1/leads/inbound on the compiled executable, in both durability modes,
 * versus the bare-minimum baseline (baseline-server.ts: one INSERT per request), same load generator,
 * concurrency and duration, interleaved rounds, medians. Target: askad's req/s ≥ 0.5 × the baseline's.
 *
 * Load comes from wrk (`-t1 -c50`; it costs the client far less CPU than a JS load generator, which
 * would eat the CPU the server needs). Without wrk, or with --js, a JS closed loop at 16 connections.
 *
 * Usage: bun test/bench/ingest.ts [seconds-per-run] [rounds] [--js] [--before=PATH]
 * --before=PATH also measures another askad executable (an older build) in the same rounds, with its defaults.
 */
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { ensureExecutable, startServer, type RunningServer } from '../exe'
import { haveWrk, load, median, printTable, rssMb, runWrk, tempDir, wrkLeadScript } from './lib'

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const BEFORE = process.argv.find((a) => a.startsWith('--before='))?.slice('--before='.length)
const SECONDS = Number(args[0] ?? 8)
const ROUNDS = Number(args[1] ?? 3)
const WRK = !process.argv.includes('--js') && haveWrk()
const CONNECTIONS = WRK ? 50 : 16
/** askad's default: one access-log line per request, as users run it. */
const LOG_LEVEL = process.env.LOG_LEVEL ?? 'info'

const dir = tempDir('ingest')
const key = generateKey('secret')
const exe = ensureExecutable()

async function askad(durability: 'normal' | 'full' | null, executable = exe): Promise<RunningServer> {
  return startServer([executable, 'serve'], {
    cwd: dir,
    env: {
      ASKAD_DB: join(dir, `askad-${durability ?? 'before'}.db`),
      ASKAD_BOOTSTRAP_KEY: key,
      ASKAD_RATE_LIMIT: '1000000000/1s',
      ...(durability ? { ASKAD_DURABILITY: durability } : {}),
      LOG_LEVEL,
    },
  })
}

const servers: Record<string, { server: RunningServer; auth: boolean }> = {
  baseline: { server: await startServer(['bun', join(import.meta.dir, 'baseline-server.ts'), join(dir, 'baseline.db')], { cwd: dir }), auth: false },
  'askad normal': { server: await askad('normal'), auth: true },
  'askad full': { server: await askad('full'), auth: true },
  ...(BEFORE ? { 'askad before': { server: await askad(null, BEFORE), auth: true } } : {}),
}
const idleRss = Object.fromEntries(Object.entries(servers).map(([name, s]) => [name, rssMb(s.server.proc.pid)]))

let n = 0
const body = () =>
  JSON.stringify({
    email: `jane${n++}@example.com`,
    first_name: 'Jane',
    last_name: 'Smith',
    phone: '+1234567890',
    source: 'hubspot',
    metadata: { deal_value: 5000 },
  })

async function run(name: string, seconds: number) {
  const { server, auth } = servers[name]!
  if (WRK)
    return runWrk(server.url, wrkLeadScript(dir, { tag: `${name.replace(' ', '-')}-${n++}`, keys: auth ? [key] : [] }), { connections: CONNECTIONS, seconds })
  const make = () =>
    new Request(`${server.url}/api/v1/leads/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${key}` } : {}) },
      body: body(),
    })
  return load(make, { concurrency: CONNECTIONS, durationMs: seconds * 1000, expectStatus: 201 })
}

// Warm up every server (JIT, page cache) without recording.
for (const name of Object.keys(servers)) await run(name, 1)

const rows: Record<string, string | number>[] = []
const results: Record<string, { rps: number[]; p50: number[]; p99: number[] }> = {}
for (let round = 1; round <= ROUNDS; round++) {
  for (const name of Object.keys(servers)) {
    const r = await run(name, SECONDS)
    const into = (results[name] ??= { rps: [], p50: [], p99: [] })
    into.rps.push(r.reqPerSec)
    into.p50.push(r.p50)
    into.p99.push(r.p99)
    rows.push({ round, server: name, requests: r.requests, errors: r.errors, 'req/s': Math.round(r.reqPerSec), 'p50 ms': r.p50, 'p99 ms': r.p99 })
  }
}
const base = median(results.baseline!.rps)
const summary = Object.entries(results).map(([name, r]) => ({
  server: name,
  'median req/s': Math.round(median(r.rps)),
  'askad / baseline': name === 'baseline' ? '' : (median(r.rps) / base).toFixed(2),
  'median p50 ms': median(r.p50),
  'median p99 ms': median(r.p99),
  'RSS idle MB': idleRss[name]!.toFixed(0),
  'RSS after MB': rssMb(servers[name]!.server.proc.pid).toFixed(0),
}))

const loader = WRK ? `wrk -t1 -c${CONNECTIONS}` : `JS closed loop, ${CONNECTIONS} connections`
printTable(`ingest: ${ROUNDS} interleaved rounds × ${SECONDS} s, ${loader}, askad LOG_LEVEL=${LOG_LEVEL}`, rows)
printTable('ingest: medians', summary)
for (const durability of ['normal', 'full']) {
  const ratio = median(results[`askad ${durability}`]!.rps) / base
  console.log(`askad ${durability} / baseline: ${ratio.toFixed(2)} (target ≥ 0.50): ${ratio >= 0.5 ? 'met' : 'MISSED'}`)
}

await Promise.all(Object.values(servers).map((s) => s.server.stop()))
process.exit(0)
