/**
 * Memory benchmark for the rate limiter: 1,000,000 distinct ids (half API key ids, half client
 * IPs) each take a token within one window, so none may be dropped as idle: the worst case.
 * Then another 1,000,000 ids arrive, spread over the next two windows, and the first million,
 * idle by then, must make room.
 * Prints resident memory (after a full GC) as a table and exits non-zero when it grew by
 * 150 MB or more. Run: `bun test/bench/limiter-memory.ts`.
 */
import { newId } from '../../src/lib/ids'
import { createTokenBuckets } from '../../src/lib/token-bucket'

const IDS = 1_000_000
const LIMIT_MB = 150
const CAPACITY = 100
const WINDOW_MS = 60_000

const mb = (bytes: number) => bytes / 1024 / 1024

function settledRss(): number {
  Bun.gc(true)
  Bun.gc(true)
  return process.memoryUsage().rss
}

function ipOf(i: number): string {
  return `${10 + (i >>> 24)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`
}

/** Takes one token for each of IDS distinct ids while the clock moves by `spanMs`; returns nanoseconds per take. */
function fill(round: number, spanMs: number): number {
  const started = performance.now()
  for (let i = 0; i < IDS; i++) {
    now += spanMs / IDS
    buckets.take(i % 2 === 0 ? `key:${newId()}` : `ip:${round}:${ipOf(i)}`, CAPACITY, WINDOW_MS)
  }
  return ((performance.now() - started) * 1e6) / IDS
}

let now = Date.parse('2026-11-01T12:00:00Z')
const buckets = createTokenBuckets({ now: () => now })

const before = settledRss()
const firstNs = fill(1, 0)
const afterFirst = settledRss()
const heldFirst = buckets.size
const secondNs = fill(2, 2 * WINDOW_MS)
const afterSecond = settledRss()

const rows = [
  { phase: 'empty limiter', buckets: 0, 'RSS MB': mb(before), 'growth MB': 0, 'ns/take': 0 },
  {
    phase: `${IDS.toLocaleString('en')} ids in one window`,
    buckets: heldFirst,
    'RSS MB': mb(afterFirst),
    'growth MB': mb(afterFirst - before),
    'ns/take': firstNs,
  },
  {
    phase: `${IDS.toLocaleString('en')} more over two windows`,
    buckets: buckets.size,
    'RSS MB': mb(afterSecond),
    'growth MB': mb(afterSecond - before),
    'ns/take': secondNs,
  },
]
console.table(
  rows.map((r) => ({
    ...r,
    buckets: r.buckets.toLocaleString('en'),
    'RSS MB': r['RSS MB'].toFixed(1),
    'growth MB': r['growth MB'].toFixed(1),
    'ns/take': r['ns/take'].toFixed(0),
  })),
)

const growth = Math.max(mb(afterFirst - before), mb(afterSecond - before))
const failures = [
  heldFirst !== IDS && `expected ${IDS} buckets after the first round, found ${heldFirst}`,
  buckets.size > IDS && `idle buckets were not dropped: ${buckets.size} held after the second round`,
  growth >= LIMIT_MB && `resident memory grew by ${growth.toFixed(1)} MB (limit ${LIMIT_MB} MB)`,
].filter(Boolean)
if (failures.length) {
  for (const failure of failures) console.error(`FAIL: ${failure}`)
  process.exit(1)
}
console.log(`OK: at most ${growth.toFixed(1)} MB more for ${IDS.toLocaleString('en')} live buckets (limit ${LIMIT_MB} MB)`)
