/**
 * Ingest benchmark: POST /api/v1/leads/inbound on the compiled executable versus the bare-minimum
 * baseline (baseline-server.ts), same load generator, concurrency and duration, interleaved rounds.
 * Target: askad's req/s ≥ 0.5 × the baseline's. Usage: bun test/bench/ingest.ts [seconds-per-run] [rounds]
 */
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { ensureExecutable, startServer } from '../exe'
import { load, median, printTable, rssMb, tempDir } from './lib'

const SECONDS = Number(process.argv[2] ?? 5)
const ROUNDS = Number(process.argv[3] ?? 3)
const CONCURRENCY = 16
/** askad's default: one access-log line per request, as users run it. */
const LOG_LEVEL = process.env.LOG_LEVEL ?? 'info'

const dir = tempDir('ingest')
const key = generateKey('secret')
const exe = ensureExecutable()
const askad = await startServer([exe, 'serve'], {
  cwd: dir,
  env: { ASKAD_DB: join(dir, 'askad.db'), ASKAD_BOOTSTRAP_KEY: key, ASKAD_RATE_LIMIT: '1000000000/1s', LOG_LEVEL: LOG_LEVEL },
})
const baseline = await startServer(['bun', join(import.meta.dir, 'baseline-server.ts'), join(dir, 'baseline.db')], { cwd: dir })

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
const request = (url: string, auth: boolean) => () =>
  new Request(`${url}/api/v1/leads/inbound`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${key}` } : {}) },
    body: body(),
  })

const targets = { baseline: request(baseline.url, false), askad: request(askad.url, true) }
// Warm up both (JIT, page cache) without recording.
for (const make of Object.values(targets)) await load(make, { concurrency: CONCURRENCY, durationMs: 1000, expectStatus: 201 })

const rows: Record<string, string | number>[] = []
const results: Record<string, { rps: number[]; p50: number[]; p99: number[] }> = {
  baseline: { rps: [], p50: [], p99: [] },
  askad: { rps: [], p50: [], p99: [] },
}
for (let round = 1; round <= ROUNDS; round++) {
  for (const [name, make] of Object.entries(targets)) {
    const r = await load(make, { concurrency: CONCURRENCY, durationMs: SECONDS * 1000, expectStatus: 201 })
    results[name]!.rps.push(r.reqPerSec)
    results[name]!.p50.push(r.p50)
    results[name]!.p99.push(r.p99)
    rows.push({ round, server: name, requests: r.requests, errors: r.errors, 'req/s': Math.round(r.reqPerSec), 'p50 ms': r.p50, 'p99 ms': r.p99 })
  }
}
const summary = Object.entries(results).map(([name, r]) => ({
  server: name,
  'median req/s': Math.round(median(r.rps)),
  'median p50 ms': median(r.p50),
  'median p99 ms': median(r.p99),
}))
const ratio = median(results.askad!.rps) / median(results.baseline!.rps)
const askadRss = rssMb(askad.proc.pid)

printTable(`ingest: ${ROUNDS} interleaved rounds × ${SECONDS} s, concurrency ${CONCURRENCY}, askad LOG_LEVEL=${LOG_LEVEL}`, rows)
printTable('ingest: medians', [...summary, { server: 'askad / baseline', 'median req/s': ratio.toFixed(2), 'median p50 ms': '', 'median p99 ms': '' }])
console.log(`\naskad RSS after ingest: ${askadRss.toFixed(1)} MB; ratio ${ratio.toFixed(2)} (target ≥ 0.50): ${ratio >= 0.5 ? 'met' : 'MISSED'}`)

await askad.stop()
await baseline.stop()
process.exit(0)
