/**
 * Prometheus metrics at `GET /metrics` (text exposition format 0.0.4): requests and latency by route
 * pattern, rate-limited requests, and the webhook outbox read from the database at scrape time.
 */
import { Elysia, t } from 'elysia'
import { sql } from 'drizzle-orm'
import { checkpointCount } from '../db/checkpointer'
import { walSyncCount } from '../db/durability'
import { webhookDeliveries } from '../db/schema'
import type { AppDeps } from '../deps'
import { VERSION } from '../version'
import { requestContext } from './request-context'
import { fromRouteTable, routeMatcher } from './route-table'

const METRICS_PATH = '/metrics'
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Upper bounds of the latency histogram, in seconds (Prometheus client defaults plus a 10 s tail). */
export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Route label of requests no route matched: raw paths would let any scanner create unbounded series. */
export const UNMATCHED_ROUTE = '(unmatched)'

const STARTED_AT_SECONDS = Date.now() / 1000

type Labels = Record<string, string>

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
}

function series(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  return `${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${Number.isFinite(value) ? value : 0}`
}

function family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, lines: string[]): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines]
}

interface Histogram {
  labels: Labels
  /** Non-cumulative counts per bucket; rendering accumulates them. */
  buckets: number[]
  sum: number
  count: number
}

/** In-memory request counters of one app instance. */
class RequestMetrics {
  private readonly requests = new Map<string, { labels: Labels; value: number }>()
  private readonly latency = new Map<string, Histogram>()
  private readonly rateLimited = new Map<string, number>()

  /** Records one finished request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const requestKey = `${method} ${route} ${status}`
    const counter = this.requests.get(requestKey) ?? { labels: { method, route, status: String(status) }, value: 0 }
    counter.value++
    this.requests.set(requestKey, counter)

    const latencyKey = `${method} ${route}`
    const histogram = this.latency.get(latencyKey) ?? { labels: { method, route }, buckets: LATENCY_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 }
    const bucket = LATENCY_BUCKETS_SECONDS.findIndex((bound) => seconds <= bound)
    if (bucket >= 0) histogram.buckets[bucket]!++
    histogram.sum += seconds
    histogram.count++
    this.latency.set(latencyKey, histogram)

    if (status === 429) this.rateLimited.set(route, (this.rateLimited.get(route) ?? 0) + 1)
  }

  /** The request families in exposition format. */
  render(): string[] {
    const histogramLines = [...this.latency.values()].flatMap((h) => {
      let cumulative = 0
      const buckets = LATENCY_BUCKETS_SECONDS.map((bound, i) => {
        cumulative += h.buckets[i]!
        return series('askad_http_request_duration_seconds_bucket', { ...h.labels, le: String(bound) }, cumulative)
      })
      return [
        ...buckets,
        series('askad_http_request_duration_seconds_bucket', { ...h.labels, le: '+Inf' }, h.count),
        series('askad_http_request_duration_seconds_sum', h.labels, h.sum),
        series('askad_http_request_duration_seconds_count', h.labels, h.count),
      ]
    })
    return [
      ...family(
        'askad_http_requests_total',
        'counter',
        'HTTP requests by method, route pattern and status.',
        [...this.requests.values()].map((c) => series('askad_http_requests_total', c.labels, c.value)),
      ),
      ...family(
        'askad_http_request_duration_seconds',
        'histogram',
        'Time from receiving a request to finishing its response, by route pattern.',
        histogramLines,
      ),
      ...family(
        'askad_rate_limited_requests_total',
        'counter',
        'Requests answered 429 (rate limit exceeded), by route pattern.',
        [...this.rateLimited].map(([route, n]) => series('askad_rate_limited_requests_total', { route }, n)),
      ),
    ]
  }
}

/** What the webhook gauges show: deliveries by status, and the due ones with the oldest due time. */
interface OutboxFacts {
  byStatus: Map<string, number>
  due: { n: number; oldest: number | null }
}

/** Counts the outbox on the node's database (PostgreSQL when it runs on one): two aggregate queries. */
async function outboxFacts(deps: Pick<AppDeps, 'db' | 'pg'>, now: number): Promise<OutboxFacts> {
  if (deps.pg) {
    const client = deps.pg.$client
    const statuses: { status: string; n: number }[] = await client`SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY status`
    const [due] = await client`SELECT count(*)::int AS n, min(coalesce(next_attempt_at, created_at)) AS oldest FROM webhook_deliveries
      WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ${now})`
    return { byStatus: new Map(statuses.map((r) => [r.status, r.n])), due: { n: due.n, oldest: due.oldest === null ? null : Number(due.oldest) } }
  }
  const { db } = deps
  const byStatus = new Map(
    db.all<{ status: string; n: number }>(sql`select status, count(*) as n from webhook_deliveries group by status`).map((r) => [r.status, r.n]),
  )
  const [due] = db.all<{ n: number; oldest: number | null }>(
    sql`select count(*) as n, min(coalesce(next_attempt_at, created_at)) as oldest from webhook_deliveries
        where status = 'pending' and (next_attempt_at is null or next_attempt_at <= ${now})`,
  ) as [{ n: number; oldest: number | null }]
  return { byStatus, due }
}

/** Webhook outbox gauges, counted from the tables so the dispatcher need not report to us. */
function webhookMetrics({ byStatus, due }: OutboxFacts, now: number): string[] {
  const lagSeconds = due.oldest === null ? 0 : Math.max(0, (now - due.oldest) / 1000)
  return [
    ...family(
      'askad_webhook_deliveries',
      'gauge',
      'Webhook deliveries by outcome: pending (queued or retrying), succeeded, failed (retries exhausted).',
      webhookDeliveries.status.enumValues.map((status) => series('askad_webhook_deliveries', { status }, byStatus.get(status) ?? 0)),
    ),
    ...family('askad_webhook_queue_depth', 'gauge', 'Deliveries still to be sent (pending), including those waiting for a retry.', [
      series('askad_webhook_queue_depth', {}, byStatus.get('pending') ?? 0),
    ]),
    ...family('askad_webhook_queue_due', 'gauge', 'Pending deliveries whose attempt time has come.', [series('askad_webhook_queue_due', {}, due.n)]),
    ...family('askad_webhook_queue_lag_seconds', 'gauge', 'How long the oldest due delivery has been waiting.', [
      series('askad_webhook_queue_lag_seconds', {}, lagSeconds),
    ]),
  ]
}

/** Checks a shared rate-limit store could not answer (answered from memory instead: fail open), when one is used. */
function rateLimitStoreMetrics(store: AppDeps['rateLimitStore']): string[] {
  if (!store || store.kind === 'memory') return []
  return family(
    'askad_rate_limit_store_fallbacks_total',
    'counter',
    "Rate-limit checks answered from this node's memory because the shared store (Redis or PostgreSQL) failed or was paused after a failure.",
    [series('askad_rate_limit_store_fallbacks_total', { store: store.kind }, store.fallbacks)],
  )
}

/** SQLite's WAL: fsyncs acknowledged writes waited for (durability `full`, durability.ts) and checkpoints made off the serving thread (checkpointer.ts). */
function walMetrics(deps: AppDeps): string[] {
  if (deps.pg) return []
  return [
    ...family('askad_wal_syncs_total', 'counter', 'fsyncs of the SQLite WAL that acknowledged writes waited for (ASKAD_DURABILITY=full; 0 with normal).', [
      series('askad_wal_syncs_total', {}, walSyncCount(deps.db)),
    ]),
    ...family('askad_wal_checkpoints_total', 'counter', 'SQLite WAL checkpoints made by the checkpoint thread.', [
      series('askad_wal_checkpoints_total', {}, checkpointCount(deps.db)),
    ]),
  ]
}

function processMetrics(): string[] {
  return [
    ...family('askad_build_info', 'gauge', 'Always 1; the version label says which askad runs.', [series('askad_build_info', { version: VERSION }, 1)]),
    ...family('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, in seconds.', [
      series('process_start_time_seconds', {}, STARTED_AT_SECONDS),
    ]),
    ...family('process_resident_memory_bytes', 'gauge', 'Resident memory size, in bytes.', [
      series('process_resident_memory_bytes', {}, process.memoryUsage.rss()),
    ]),
  ]
}

/** Observes every response and serves the exposition; no key needed (keep it off the public internet). */
export const metrics = (deps: AppDeps) => {
  const requests = new RequestMetrics()
  const plugin = new Elysia({ name: 'metrics' })
  // Auth and rate limits answer in onRequest, before routing, so a 401 or 429 carries no `route` from Elysia.
  const routeOf = fromRouteTable(plugin, routeMatcher)
  return plugin
    .onAfterResponse({ as: 'global' }, ({ request, route, path, set }) => {
      const state = requestContext(request)
      const status = state.status ?? (typeof set.status === 'number' ? set.status : 200)
      const pattern = route || (routeOf()(request.method, path) ?? UNMATCHED_ROUTE)
      requests.observe(request.method, pattern, status, (performance.now() - state.startedAt) / 1000)
    })
    .get(
      METRICS_PATH,
      async ({ set }) => {
        set.headers['content-type'] = CONTENT_TYPE
        set.headers['cache-control'] = 'no-store'
        const now = deps.clock.now()
        const outbox = webhookMetrics(await outboxFacts(deps, now), now)
        return `${[...requests.render(), ...outbox, ...rateLimitStoreMetrics(deps.rateLimitStore), ...walMetrics(deps), ...processMetrics()].join('\n')}\n`
      },
      {
        response: { 200: t.String({ description: 'Prometheus text exposition.' }) },
        detail: {
          operationId: 'getMetrics',
          summary: 'Prometheus metrics',
          description:
            'Prometheus text exposition (format 0.0.4): `askad_http_requests_total` and the `askad_http_request_duration_seconds` histogram by route pattern, ' +
            '`askad_rate_limited_requests_total`, `askad_rate_limit_store_fallbacks_total` (with a shared rate-limit store), `askad_wal_syncs_total` and `askad_wal_checkpoints_total` (SQLite), webhook deliveries by outcome and the delivery queue. No key needed; expose it only to your monitoring.',
          tags: ['Operations'],
        },
      },
    )
}
