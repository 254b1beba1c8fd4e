/**
 * Webhooks benchmark, saturated: wrk (`-t1 -c16`) pushes leads at full speed into the compiled
 * executable for `--seconds`, each lead announced as `lead.created` to `--receivers` local receivers.
 * Does the dispatcher keep up with ingest? Reports ingest leads/s, deliveries/s during the run and
 * their ratio to 4 × ingest, the queue depth (pending deliveries, read from the SQLite file) halfway
 * and at the end, p50/p99 lead → first arrival over the whole run, the time to drain afterwards and
 * askad's RSS (idle, during, after). Baseline in the same run, interleaved round by round: a bare
 * fetch loop in a process of its own (webhook-bare-client.ts) posting the same payloads to the same
 * receivers at the dispatcher's concurrency; askad/bare compares deliveries/s. Medians over rounds.
 * Latency runs from the lead's `created_at` (stamped in its transaction, just before the commit and
 * the 201) to the arrival, both on this machine's wall clock: an upper bound of 201 → arrival.
 * Goals (issue 15): queue does not grow, deliveries/s ≥ 4 × ingest, p50 < 1 s, askad/bare ≥ 0.3, RSS < 150 MB.
 * Usage: bun test/bench/webhooks.ts [--seconds 30] [--rounds 1] [--receivers 4] [--bare-seconds 10]
 *        [--max-in-flight N]   (each endpoint's cap; default the API's, 10)
 *        [--exe PATH]          (another build of askad, e.g. an older one for a before/after table)
 *        [--profile DIR]   (runs `bun --cpu-prof src/index.ts serve` instead, profile written to DIR)
 */
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateKey } from '../../src/lib/keys'
import { MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_ENDPOINT } from '../../src/workers/dispatcher'
import { countRows, ensureExecutable, startServer } from '../exe'
import { haveWrk, median, percentile, printTable, rssMb, runWrk, tempDir, wrkLeadScript } from './lib'

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '1' },
    receivers: { type: 'string', default: '4' },
    'bare-seconds': { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    'max-in-flight': { type: 'string' },
    exe: { type: 'string' },
    profile: { type: 'string' },
  },
})
const SECONDS = Number(args.seconds)
const ROUNDS = Number(args.rounds)
const RECEIVERS = Number(args.receivers)
const BARE_SECONDS = Number(args['bare-seconds'])
const CONNECTIONS = Number(args.connections)
const PER_ENDPOINT = Number(args['max-in-flight'] ?? MAX_IN_FLIGHT_PER_ENDPOINT)
/** The dispatcher's concurrency towards these receivers, which the bare loop copies. */
const CONCURRENCY = Math.min(MAX_IN_FLIGHT, RECEIVERS * PER_ENDPOINT)
const WARMUP_SECONDS = 3
/** Longest wait for the queue to drain once ingest stopped. */
const DRAIN_TIMEOUT_MS = 120_000
const SAMPLE_MS = 500
/** USER_HZ of /proc/<pid>/stat on Linux. */
const CLOCK_TICKS_PER_SECOND = 100
const GOAL_P50_MS = 1_000
const GOAL_RATIO = 0.3
/**
 * Deliveries during the run cannot exceed 4 × the leads ingested in it: keeping up, the shortfall is
 * only what was still in flight when the run stopped, so ≥ 0.99 of 4 × ingest counts as "≥ 4 × ingest".
 */
const KEEP_UP = 0.99
const GOAL_RSS_MB = 150

if (!haveWrk()) process.exit(2)

interface BenchReceiver {
  url: string
  /** Lead id → ms from its created_at to its first arrival, for askad's leads. */
  latency: Map<string, number>
  /** Lead id → arrival (performance.now()) of the first copy. */
  arrivedAt: Map<string, number>
  /** Arrivals of the bare loop's payloads (performance.now()). */
  bare: number[]
  /** Requests of askad's leads that were not their first (at-least-once redeliveries). */
  duplicates: number
  stop(): void
}

/** A receiver that notes when each event arrived (first copy) and answers 204. */
function startBenchReceiver(): BenchReceiver {
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const at = performance.now()
      const wall = Date.now()
      const body = (await request.json()) as { data: { lead: { id: string; created_at: string } } }
      const lead = body.data.lead
      if (lead.id.startsWith('bare_')) rx.bare.push(at)
      else if (rx.arrivedAt.has(lead.id)) rx.duplicates++
      else {
        rx.arrivedAt.set(lead.id, at)
        rx.latency.set(lead.id, wall - Date.parse(lead.created_at))
      }
      return new Response(null, { status: 204 })
    },
  })
  const rx: BenchReceiver = {
    url: `http://127.0.0.1:${server.port}/hooks`,
    latency: new Map(),
    arrivedAt: new Map(),
    bare: [],
    duplicates: 0,
    stop: () => server.stop(true),
  }
  return rx
}

function reset(receivers: BenchReceiver[]): void {
  for (const rx of receivers) {
    rx.latency.clear()
    rx.arrivedAt.clear()
    rx.bare = []
    rx.duplicates = 0
  }
}

const dir = tempDir('webhooks')
const dbPath = join(dir, 'askad.db')
const key = generateKey('secret')
const command = args.profile
  ? ['bun', '--cpu-prof', `--cpu-prof-dir=${args.profile}`, join(import.meta.dir, '../../src/index.ts'), 'serve']
  : [args.exe ?? ensureExecutable(), 'serve']
const askad = await startServer(command, {
  cwd: dir,
  env: {
    ASKAD_DB: dbPath,
    ASKAD_BOOTSTRAP_KEY: key,
    ASKAD_RATE_LIMIT: '1000000000/1s',
    ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    LOG_LEVEL: 'warn',
  },
})
const receivers = Array.from({ length: RECEIVERS }, startBenchReceiver)
for (const rx of receivers) {
  const res = await fetch(`${askad.url}/api/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    // Sent only when asked for: builds from before the field refuse it.
    body: JSON.stringify({ url: rx.url, events: ['lead.created'], ...(args['max-in-flight'] ? { max_in_flight: PER_ENDPOINT } : {}) }),
  })
  if (res.status !== 201) throw new Error(`creating an endpoint failed: ${res.status} ${await res.text()}`)
}

/** CPU time askad has used so far, in ms (user + system, from /proc). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND
}

const leadCount = () => countRows(dbPath, 'select count(*) as n from leads')
const queueDepth = () => countRows(dbPath, "select count(*) as n from webhook_deliveries where status = 'pending'")

/** Waits until the queue is empty and every receiver has every lead created so far; the seconds it took, or NaN on timeout. */
async function drain(expectedLeads: number): Promise<number> {
  const started = performance.now()
  while (performance.now() - started < DRAIN_TIMEOUT_MS) {
    if (receivers.every((rx) => rx.arrivedAt.size >= expectedLeads) && queueDepth() === 0) return (performance.now() - started) / 1000
    await Bun.sleep(50)
  }
  return NaN
}

interface AskadRound {
  leadsPerSec: number
  deliveriesPerSec: number
  keepUp: number
  depthHalf: number
  depthEnd: number
  p50: number
  p99: number
  drainSeconds: number
  rssDuring: number
  rssAfter: number
  /** askad's CPU use while wrk ran, in % of one core. */
  cpuPercent: number
  /** askad's CPU time per lead from the start of the run until drained: its ingest and its deliveries. */
  cpuMsPerLead: number
  errors: number
  duplicates: number
  missing: number
}

let tag = 0
/** One saturated run of `seconds`: wrk pushes leads; returns what the dispatcher made of them. */
async function runAskad(seconds: number): Promise<AskadRound> {
  reset(receivers)
  const before = leadCount()
  const rss: number[] = []
  let depthHalf = NaN
  const started = performance.now()
  const cpuAtStart = cpuMs(askad.proc.pid)
  const sampler = setInterval(() => rss.push(rssMb(askad.proc.pid)), SAMPLE_MS)
  const halfway = setTimeout(() => (depthHalf = queueDepth()), (seconds * 1000) / 2)
  const wrk = await runWrk(askad.url, wrkLeadScript(dir, { tag: `wh${tag++}`, keys: [key] }), { connections: CONNECTIONS, seconds })
  const ended = performance.now()
  clearInterval(sampler)
  clearTimeout(halfway)
  const cpuAtEnd = cpuMs(askad.proc.pid)
  const depthEnd = queueDepth()
  const leads = leadCount() - before
  const inRun = receivers.reduce((n, rx) => n + [...rx.arrivedAt.values()].filter((at) => at <= ended).length, 0)
  const runSeconds = (ended - started) / 1000
  const drainSeconds = await drain(leads)
  const cpuDrained = cpuMs(askad.proc.pid)
  const latencies = receivers.flatMap((rx) => [...rx.latency.values()]).sort((a, b) => a - b)
  const leadsPerSec = leads / runSeconds
  const deliveriesPerSec = inRun / runSeconds
  return {
    leadsPerSec,
    deliveriesPerSec,
    keepUp: deliveriesPerSec / (RECEIVERS * leadsPerSec),
    depthHalf,
    depthEnd,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    drainSeconds,
    rssDuring: median(rss),
    rssAfter: rssMb(askad.proc.pid),
    cpuPercent: ((cpuAtEnd - cpuAtStart) / (ended - started)) * 100,
    cpuMsPerLead: (cpuDrained - cpuAtStart) / leads,
    errors: wrk.errors,
    duplicates: receivers.reduce((n, rx) => n + rx.duplicates, 0),
    missing: receivers.reduce((n, rx) => n + Math.max(0, leads - rx.arrivedAt.size), 0),
  }
}

/** The bare loop in its own process for `seconds`; deliveries/s as the receivers counted them. */
async function runBare(seconds: number): Promise<number> {
  reset(receivers)
  const client = Bun.spawn(['bun', join(import.meta.dir, 'webhook-bare-client.ts'), String(seconds), String(CONCURRENCY), ...receivers.map((rx) => rx.url)], {
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const out = await new Response(client.stdout).text()
  if ((await client.exited) !== 0) throw new Error(`bare client failed: ${out}`)
  const { errors, seconds: took } = JSON.parse(out) as { sent: number; errors: number; seconds: number }
  if (errors > 0) throw new Error(`bare client: ${errors} errors`)
  const arrivals = receivers.flatMap((rx) => rx.bare).sort((a, b) => a - b)
  return arrivals.length / took
}

const rssIdle = rssMb(askad.proc.pid)
// Warm-up (JIT, page cache, connections), not reported.
await runAskad(WARMUP_SECONDS)
const rounds: (AskadRound & { bare: number })[] = []
for (let r = 0; r < ROUNDS; r++) {
  const bare = await runBare(BARE_SECONDS)
  rounds.push({ ...(await runAskad(SECONDS)), bare })
}

const row = (name: string, r: AskadRound & { bare: number }) => ({
  round: name,
  'ingest leads/s': Math.round(r.leadsPerSec),
  'deliveries/s': Math.round(r.deliveriesPerSec),
  [`÷ ${RECEIVERS}×ingest`]: r.keepUp,
  'queue ½': r.depthHalf,
  'queue end': r.depthEnd,
  'p50 ms': Math.round(r.p50),
  'p99 ms': Math.round(r.p99),
  'drain s': r.drainSeconds,
  'bare deliveries/s': Math.round(r.bare),
  'askad/bare': r.deliveriesPerSec / r.bare,
  'RSS during MB': Math.round(r.rssDuring),
  'RSS after MB': Math.round(r.rssAfter),
  'askad CPU %': Math.round(r.cpuPercent),
  'CPU ms/lead': r.cpuMsPerLead,
})
const med = (pick: (r: (typeof rounds)[number]) => number) => median(rounds.map(pick))
const medianRound = {
  leadsPerSec: med((r) => r.leadsPerSec),
  deliveriesPerSec: med((r) => r.deliveriesPerSec),
  keepUp: med((r) => r.keepUp),
  depthHalf: med((r) => r.depthHalf),
  depthEnd: med((r) => r.depthEnd),
  p50: med((r) => r.p50),
  p99: med((r) => r.p99),
  drainSeconds: med((r) => r.drainSeconds),
  bare: med((r) => r.bare),
  rssDuring: med((r) => r.rssDuring),
  rssAfter: med((r) => r.rssAfter),
  cpuPercent: med((r) => r.cpuPercent),
  cpuMsPerLead: med((r) => r.cpuMsPerLead),
  errors: 0,
  duplicates: 0,
  missing: 0,
}
const ratio = med((r) => r.deliveriesPerSec / r.bare)
printTable(
  `webhooks, saturated: wrk -t1 -c${CONNECTIONS} for ${SECONDS} s, lead.created × ${RECEIVERS} receivers; dispatcher ${MAX_IN_FLIGHT} in flight (≤ ${PER_ENDPOINT} per endpoint), bare loop ${CONCURRENCY}`,
  [...rounds.map((r, i) => row(String(i + 1), r)), ...(ROUNDS > 1 ? [{ ...row('median', medianRound), 'askad/bare': ratio }] : [])],
)
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED')
printTable('webhooks: goals (issue 15), medians', [
  {
    goal: 'queue does not grow (end ≤ halfway)',
    value: `${medianRound.depthHalf} → ${medianRound.depthEnd}`,
    result: verdict(medianRound.depthEnd <= medianRound.depthHalf),
  },
  { goal: `deliveries/s ≥ ${RECEIVERS} × ingest`, value: medianRound.keepUp.toFixed(2), result: verdict(medianRound.keepUp >= KEEP_UP) },
  { goal: `p50 lead → receiver < ${GOAL_P50_MS} ms`, value: Math.round(medianRound.p50), result: verdict(medianRound.p50 < GOAL_P50_MS) },
  { goal: `askad/bare ≥ ${GOAL_RATIO}`, value: ratio.toFixed(2), result: verdict(ratio >= GOAL_RATIO) },
  { goal: `RSS under load < ${GOAL_RSS_MB} MB`, value: Math.round(medianRound.rssDuring), result: verdict(medianRound.rssDuring < GOAL_RSS_MB) },
])
const errors = rounds.reduce((n, r) => n + r.errors, 0)
const missing = rounds.reduce((n, r) => n + r.missing, 0)
const duplicates = rounds.reduce((n, r) => n + r.duplicates, 0)
console.log(
  `\nload average at the end ${loadavg()
    .map((n) => n.toFixed(2))
    .join(
      ' ',
    )} (2 cores, shared); askad RSS idle ${rssIdle.toFixed(1)} MB; ingest errors ${errors}; deliveries missing after drain ${missing}; redelivered copies ${duplicates}`,
)

receivers.forEach((rx) => rx.stop())
await askad.stop()
process.exit(errors === 0 && missing === 0 ? 0 : 1)
