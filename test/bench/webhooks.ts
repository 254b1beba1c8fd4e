/**
 * Webhooks benchmark: N leads through POST /api/v1/leads/inbound on the compiled executable, each
 * announced as `lead.created` to R local receivers. Measures deliveries/s (all deliveries / time from
 * the first 201 to the last arrival) and the 201 → arrival latency, against a baseline in the same run:
 * a bare fetch loop in this process sending the same payloads to the same receivers at the
 * dispatcher's concurrency. A second, paced run (half the rate the first one sustained) gives the
 * latency when ingest does not outrun delivery. Targets (issue 7): ≥ 2,000 deliveries/s, p50 < 25 ms.
 * Usage: bun test/bench/webhooks.ts [events] [receivers]
 */
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_ENDPOINT } from '../../src/workers/dispatcher'
import { ensureExecutable, startServer } from '../exe'
import { percentile, printTable, rssMb, tempDir } from './lib'

const EVENTS = Number(process.argv[2] ?? 10_000)
const RECEIVERS = Number(process.argv[3] ?? 4)
/** Clients pushing leads at the same time in the saturating run. */
const INGEST_CONCURRENCY = 16
/** The paced run sends leads at this share of the rate the saturating run delivered… */
const PACED_SHARE = 0.5
/** …for at most this long. */
const PACED_MAX_SECONDS = 15
const WARMUP_EVENTS = 300
/** Longest wait for the last delivery once every lead is in. */
const DRAIN_TIMEOUT_MS = 120_000
const TARGET_DELIVERIES_PER_SEC = 2_000
const TARGET_P50_MS = 25

interface BenchReceiver {
  url: string
  /** First arrival (performance.now()) per lead id. */
  arrivals: Map<string, number>
  /** webhook-id → lead id, to check that the id is stable and unique per event. */
  ids: Map<string, string>
  requests: number
  stop(): void
}

/** A receiver that only notes when each event arrived and answers 204. */
function startBenchReceiver(): BenchReceiver {
  const rx: BenchReceiver = {
    url: '',
    arrivals: new Map(),
    ids: new Map(),
    requests: 0,
    stop: () => server.stop(true),
  }
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const at = performance.now()
      const body = (await request.json()) as { data: { lead: { id: string } } }
      const leadId = body.data.lead.id
      rx.requests++
      if (!rx.arrivals.has(leadId)) rx.arrivals.set(leadId, at)
      rx.ids.set(request.headers.get('webhook-id') ?? '', leadId)
      return new Response(null, { status: 204 })
    },
  })
  rx.url = `http://127.0.0.1:${server.port}`
  return rx
}

function reset(receivers: BenchReceiver[]): void {
  for (const rx of receivers) {
    rx.arrivals.clear()
    rx.ids.clear()
    rx.requests = 0
  }
}

const arrivedEverywhere = (receivers: BenchReceiver[], n: number) => receivers.every((rx) => rx.arrivals.size >= n)

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) return false
    await Bun.sleep(2)
  }
  return true
}

function latencies(receivers: BenchReceiver[], sentAt: Map<string, number>): number[] {
  const values: number[] = []
  for (const rx of receivers) for (const [leadId, at] of rx.arrivals) if (sentAt.has(leadId)) values.push(at - sentAt.get(leadId)!)
  return values.sort((a, b) => a - b)
}

/** Numbers the leads across runs, so that every lead is a new contact. */
let sequence = 0

const leadBody = (i: number) => ({
  email: `bench${i}@example.com`,
  first_name: 'Jane',
  last_name: 'Smith',
  // Distinct phones: a phone shared by thousands of contacts is a different (slower) lookup path.
  phone: `+1555${String(i).padStart(7, '0')}`,
  source: 'hubspot',
  metadata: { deal_value: 5000, i },
})

interface RunResult {
  deliveries: number
  expected: number
  seconds: number
  perSec: number
  p50: number
  p99: number
  max: number
  errors: number
  duplicates: number
}

/** How leads are pushed: closed loop (`concurrency` clients, each sends when its last answer came) or open loop at `perSec`. */
type Pace = { concurrency: number } | { perSec: number }

/** askad: push `count` leads, note every 201, then wait until every receiver has every event. */
async function runAskad(url: string, key: string, receivers: BenchReceiver[], count: number, pace: Pace): Promise<RunResult & { ingestSeconds: number }> {
  reset(receivers)
  const createdAt = new Map<string, number>()
  let errors = 0
  let firstCreated = Infinity
  const send = async () => {
    const i = sequence++
    try {
      const res = await fetch(`${url}/api/v1/leads/inbound`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(leadBody(i)),
      })
      const body = (await res.json()) as { id?: string }
      const at = performance.now()
      if (res.status !== 201 || !body.id) return void errors++
      createdAt.set(body.id, at)
      firstCreated = Math.min(firstCreated, at)
    } catch {
      errors++
    }
  }
  const started = performance.now()
  if ('concurrency' in pace) {
    let left = count
    const worker = async () => {
      while (left-- > 0) await send()
    }
    await Promise.all(Array.from({ length: pace.concurrency }, worker))
  } else {
    const sent: Promise<void>[] = []
    for (let i = 0; i < count; i++) {
      const due = started + (i * 1000) / pace.perSec
      if (performance.now() < due) await Bun.sleep(due - performance.now())
      sent.push(send())
    }
    await Promise.all(sent)
  }
  const ingestSeconds = (performance.now() - started) / 1000
  await waitUntil(() => arrivedEverywhere(receivers, createdAt.size), DRAIN_TIMEOUT_MS)
  return { ...summarise(receivers, createdAt, firstCreated, errors), ingestSeconds }
}

/** Baseline: the same payloads, signed-size headers and receivers, sent by a bare loop of `MAX_IN_FLIGHT` fetches. */
async function runBaseline(receivers: BenchReceiver[]): Promise<RunResult> {
  reset(receivers)
  const jobs = EVENTS * receivers.length
  const sentAt = new Map<string, number>()
  let errors = 0
  let next = 0
  const started = performance.now()
  const worker = async () => {
    while (next < jobs) {
      const j = next++
      const event = Math.floor(j / receivers.length)
      const leadId = `lead_${event}`
      const payload = JSON.stringify({
        id: `evt_${event}`,
        type: 'lead.created',
        timestamp: new Date().toISOString(),
        data: { lead: { id: leadId, ...leadBody(event) } },
      })
      if (!sentAt.has(leadId)) sentAt.set(leadId, performance.now())
      try {
        const res = await fetch(receivers[j % receivers.length]!.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'webhook-id': `evt_${event}`, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)) },
          body: payload,
        })
        await res.arrayBuffer()
        if (res.status !== 204) errors++
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: MAX_IN_FLIGHT }, worker))
  return summarise(receivers, sentAt, started, errors)
}

function summarise(receivers: BenchReceiver[], sentAt: Map<string, number>, firstSent: number, errors: number): RunResult {
  const deliveries = receivers.reduce((n, rx) => n + rx.arrivals.size, 0)
  const lastArrival = Math.max(...receivers.flatMap((rx) => [...rx.arrivals.values()]))
  const seconds = (lastArrival - firstSent) / 1000
  const lat = latencies(receivers, sentAt)
  const requests = receivers.reduce((n, rx) => n + rx.requests, 0)
  return {
    deliveries,
    expected: sentAt.size * receivers.length,
    seconds,
    perSec: deliveries / seconds,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    max: lat.at(-1) ?? NaN,
    errors,
    duplicates: requests - deliveries,
  }
}

const dir = tempDir('webhooks')
const key = generateKey('secret')
const exe = ensureExecutable()
const askad = await startServer([exe, 'serve'], {
  cwd: dir,
  env: {
    ASKAD_DB: join(dir, 'askad.db'),
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
    body: JSON.stringify({ url: `${rx.url}/hooks`, events: ['lead.created'] }),
  })
  if (res.status !== 201) throw new Error(`creating an endpoint failed: ${res.status} ${await res.text()}`)
}

const idsStable = (rxs: BenchReceiver[]) => rxs.every((rx) => new Set(rx.ids.values()).size === rx.ids.size)
// Warm-up (JIT, page cache), not reported.
await runAskad(askad.url, key, receivers, WARMUP_EVENTS, { concurrency: INGEST_CONCURRENCY })
const baseline = await runBaseline(receivers)
const saturated = await runAskad(askad.url, key, receivers, EVENTS, { concurrency: INGEST_CONCURRENCY })
const saturatedIds = idsStable(receivers)
// Latency is a queue's length once ingest outruns delivery, so it is measured again at half the rate just sustained.
const pacedPerSec = Math.max(1, Math.round((saturated.perSec / RECEIVERS) * PACED_SHARE))
const pacedEvents = Math.min(Math.ceil(EVENTS / 2), Math.ceil(pacedPerSec * PACED_MAX_SECONDS))
const paced = await runAskad(askad.url, key, receivers, pacedEvents, { perSec: pacedPerSec })
const pacedIds = idsStable(receivers)
const askadRss = rssMb(askad.proc.pid)

const row = (name: string, r: RunResult) => ({
  run: name,
  delivered: `${r.deliveries}/${r.expected}`,
  errors: r.errors,
  duplicates: r.duplicates,
  seconds: r.seconds,
  'deliveries/s': Math.round(r.perSec),
  'p50 ms': r.p50,
  'p99 ms': r.p99,
  'max ms': r.max,
})
printTable(
  `webhooks: lead.created × ${RECEIVERS} receivers; dispatcher and bare loop ${MAX_IN_FLIGHT} in flight (askad ≤ ${MAX_IN_FLIGHT_PER_ENDPOINT} per endpoint)`,
  [
    row(`askad, ${EVENTS} leads by ${INGEST_CONCURRENCY} clients (201 → arrival)`, saturated),
    row(`askad, ${pacedEvents} leads at ${pacedPerSec}/s (201 → arrival)`, paced),
    row(`bare fetch loop, ${EVENTS} × ${RECEIVERS} (send → arrival)`, baseline),
  ],
)
const ratio = saturated.perSec / baseline.perSec
const missedBy = (value: number, target: number, unit: string) => `MISSED by ${(value - target).toFixed(1)} ${unit}`
printTable('webhooks: targets (issue 7)', [
  {
    measure: 'deliveries/s, saturated',
    target: `≥ ${TARGET_DELIVERIES_PER_SEC}`,
    askad: Math.round(saturated.perSec),
    result:
      saturated.perSec >= TARGET_DELIVERIES_PER_SEC
        ? 'met'
        : `MISSED by ${Math.round(TARGET_DELIVERIES_PER_SEC - saturated.perSec)} (${((1 - saturated.perSec / TARGET_DELIVERIES_PER_SEC) * 100).toFixed(0)} %)`,
  },
  {
    measure: 'p50 201 → arrival ms, saturated',
    target: `< ${TARGET_P50_MS}`,
    askad: saturated.p50,
    result: saturated.p50 < TARGET_P50_MS ? 'met' : missedBy(saturated.p50, TARGET_P50_MS, 'ms'),
  },
  {
    measure: `p50 201 → arrival ms, at ${pacedPerSec} leads/s`,
    target: `< ${TARGET_P50_MS}`,
    askad: paced.p50,
    result: paced.p50 < TARGET_P50_MS ? 'met' : missedBy(paced.p50, TARGET_P50_MS, 'ms'),
  },
  { measure: 'askad / bare deliveries/s', target: '', askad: ratio, result: '' },
])
console.log(
  `\ningest of ${EVENTS} leads by ${INGEST_CONCURRENCY} clients took ${saturated.ingestSeconds.toFixed(1)} s (${Math.round(EVENTS / saturated.ingestSeconds)} leads/s, ` +
    `${Math.round((RECEIVERS * EVENTS) / saturated.ingestSeconds)} deliveries/s queued); askad RSS ${askadRss.toFixed(1)} MB; ` +
    `one webhook-id per event at every receiver: ${saturatedIds && pacedIds ? 'yes' : 'NO'}`,
)

receivers.forEach((rx) => rx.stop())
await askad.stop()
const complete = (r: RunResult) => r.deliveries === r.expected && r.errors === 0
process.exit(complete(saturated) && complete(paced) && saturatedIds && pacedIds ? 0 : 1)
