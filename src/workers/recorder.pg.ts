/**
 * The dispatcher's `record` stage on PostgreSQL: the same decisions as recorder.sqlite.ts (decide.ts
 * says what an attempt changes), written for several nodes on one database:
 * - an outcome is written only while the delivery's lease is still this node's (`lease_owner = me`):
 *   a lease that expired and was claimed by another node belongs to that node's attempt now;
 * - the endpoint rows are locked first, in sorted order (their health is read, then written from
 *   what was read), then the deliveries: two recorders of one endpoint queue instead of deadlocking.
 *   `FOR NO KEY UPDATE`, as the writes change no key: a commit queueing deliveries for the endpoint
 *   (whose foreign key check takes KEY SHARE on its row) does not wait for the recorder;
 * - the attempts that finish together are written in one transaction: the rows locked and read
 *   (two statements sent together), then one statement writes everything, whatever their number.
 */
import type { PgDb } from '../db/pg/client'
import type { DeliveryStatus } from '../db/schema'
import type { Clock } from '../lib/clock'
import { newId } from '../lib/ids'
import type { Logger } from '../lib/logger'
import { decide, type DeliveryState } from './decide'
import type { AttemptRow, FinishedAttempt } from './dispatch-store'

/** Stores finished attempts. */
export interface PgRecorder {
  /** Queues the attempt for the next batched write; resolves once that write is over (failed writes are logged, not thrown). */
  record(finished: FinishedAttempt): Promise<void>
}

/** An endpoint's health as locked for the batch, changed in memory attempt by attempt. */
interface EndpointHealth {
  id: string
  enabled: boolean
  failing_since: number | null
  last_success_at: number | null
  /** Set when an attempt of this batch disabled the endpoint. */
  disabled_reason: string | null
  updated_at: number | null
  changed: boolean
}

/** A delivery as locked for the batch. */
interface DeliveryRow {
  id: string
  attempt_count: number
  manual: boolean
  workspace_id: string
  lease_owner: string | null
  scheduled_before: number
}

/** A recorder on `pg` writing under lease owner `owner`; `random` returns [0, 1) and drives the retry jitter. */
export function createPgRecorder(pg: PgDb, deps: { clock: Clock; logger: Logger }, owner: string, random: () => number): PgRecorder {
  const { clock, logger } = deps
  const sql = pg.$client
  const queued: (FinishedAttempt & { written: () => void })[] = []
  let flushQueued = false
  let flushing: Promise<void> | undefined

  /**
   * Writes every attempt that finished since the last flush in one transaction; if that fails, one
   * by one, so a bad row holds back no other. One flush at a time: attempts that finish meanwhile
   * wait for the next, larger batch instead of taking another connection.
   */
  async function flush(): Promise<void> {
    flushQueued = false
    const batch = queued.splice(0)
    let logs: (() => void)[] = []
    try {
      logs = await sql.begin((tx) => store(tx, batch))
    } catch {
      logs = []
      for (const finished of batch) {
        try {
          logs.push(...(await sql.begin((tx) => store(tx, [finished]))))
        } catch (error) {
          logger.error('webhook.record_failed', { delivery_id: finished.deliveryId, error: error instanceof Error ? error.message : String(error) })
        }
      }
    }
    logs.forEach((log) => log())
    batch.forEach((finished) => finished.written())
  }

  /** Writes the attempts and what decide made of them; returns what to log once committed. */
  async function store(tx: typeof sql, batch: FinishedAttempt[]): Promise<(() => void)[]> {
    const endpointIds = [...new Set(batch.map((f) => f.endpointId))].sort()
    // Sent together, run in order: the endpoints locked first (in id order), then the deliveries.
    const [endpointRows, deliveryRows] = (await Promise.all([
      tx`SELECT id, enabled, failing_since, last_success_at FROM webhook_endpoints WHERE id = ANY(${endpointIds}::text[]) ORDER BY id FOR NO KEY UPDATE`.execute(),
      tx`
        SELECT d.id, d.attempt_count, d.manual, d.workspace_id, d.lease_owner,
          CASE WHEN d.attempt_count = 0 THEN 0
            ELSE (SELECT count(*) FROM webhook_attempts a WHERE a.delivery_id = d.id AND a.trigger = 'scheduled') END::int AS scheduled_before
        FROM webhook_deliveries d WHERE d.id = ANY(${batch.map((f) => f.deliveryId)}::text[]) ORDER BY d.id FOR NO KEY UPDATE`.execute(),
    ])) as [EndpointHealth[], DeliveryRow[]]
    const endpoints = new Map(
      endpointRows.map((e) => [
        e.id,
        {
          ...e,
          failing_since: numberOrNull(e.failing_since),
          last_success_at: numberOrNull(e.last_success_at),
          disabled_reason: null,
          updated_at: null,
          changed: false,
        },
      ]),
    )
    const deliveries = new Map(deliveryRows.map((d) => [d.id, d]))

    const attempts: AttemptRow[] = []
    const settled: SettleRow[] = []
    const logs: (() => void)[] = []
    for (const { deliveryId, endpointId, startedAt, outcome } of batch) {
      const delivery = deliveries.get(deliveryId)
      const endpoint = endpoints.get(endpointId)
      if (!delivery || !endpoint) continue // the endpoint was deleted meanwhile
      if (delivery.lease_owner !== owner) {
        logs.push(() => logger.warn('webhook.lease_lost', { delivery_id: deliveryId, endpoint_id: endpointId, owner: delivery.lease_owner }))
        continue
      }
      const now = clock.now()
      const decision = decide(deliveryState(delivery, endpoint), { startedAt, ...outcome }, now, random)
      const { attempt, trigger, status, nextAttemptAt } = decision
      attempts.push({
        id: newId(),
        delivery_id: deliveryId,
        attempt,
        trigger,
        started_at: startedAt,
        duration_ms: outcome.durationMs,
        status_code: outcome.statusCode,
        error_class: outcome.errorClass,
        error_message: storable(outcome.errorMessage),
        response_body: storable(outcome.responseBody),
        next_attempt_at: nextAttemptAt,
      })
      settled.push({
        id: deliveryId,
        status,
        attempt_count: attempt,
        next_attempt_at: nextAttemptAt,
        last_status_code: outcome.statusCode,
        last_error: storable(outcome.errorMessage),
        now,
      })
      const change = decision.endpoint
      if (change?.kind === 'healthy') Object.assign(endpoint, { last_success_at: change.lastSuccessAt, failing_since: null, changed: true })
      else if (change?.kind === 'failing') Object.assign(endpoint, { failing_since: change.failingSince, changed: true })
      else if (change?.kind === 'disabled')
        Object.assign(endpoint, { enabled: false, disabled_reason: change.reason, failing_since: change.failingSince, updated_at: now, changed: true })
      logs.push(() => {
        logger.debug('webhook.attempt', {
          delivery_id: deliveryId,
          endpoint_id: endpointId,
          attempt,
          trigger,
          status_code: outcome.statusCode,
          error_class: outcome.errorClass,
          duration_ms: outcome.durationMs,
          next_attempt_at: nextAttemptAt,
        })
        if (change?.kind === 'disabled')
          logger.warn('webhook.disabled', { endpoint_id: endpointId, workspace_id: delivery.workspace_id, reason: change.reason })
      })
    }
    if (attempts.length === 0) return logs

    const changed = [...endpoints.values()].filter((e) => e.changed).map(({ changed: _, ...e }) => e)
    // One statement; the rows travel as JSON text (`::text::json`: a parameter typed json would be sent as a JSON string scalar).
    await tx`
      WITH attempts AS (
        INSERT INTO webhook_attempts (id, delivery_id, attempt, trigger, started_at, duration_ms, status_code, error_class, error_message, response_body, next_attempt_at)
        SELECT * FROM json_to_recordset(${JSON.stringify(attempts)}::text::json) AS x(id text, delivery_id text, attempt int, trigger text,
          started_at bigint, duration_ms int, status_code int, error_class text, error_message text, response_body text, next_attempt_at bigint)
      ), settled AS (
        UPDATE webhook_deliveries d SET status = x.status, attempt_count = x.attempt_count, next_attempt_at = x.next_attempt_at,
          lease_until = NULL, lease_owner = NULL, manual = false, last_status_code = x.last_status_code, last_error = x.last_error, updated_at = x.now
        FROM json_to_recordset(${JSON.stringify(settled)}::text::json) AS x(id text, status text, attempt_count int, next_attempt_at bigint,
          last_status_code int, last_error text, now bigint)
        WHERE d.id = x.id AND d.lease_owner = ${owner}
      )
      UPDATE webhook_endpoints e SET enabled = x.enabled, disabled_reason = coalesce(x.disabled_reason, e.disabled_reason),
        failing_since = x.failing_since, last_success_at = x.last_success_at, updated_at = coalesce(x.updated_at, e.updated_at)
      FROM json_to_recordset(${JSON.stringify(changed)}::text::json) AS x(id text, enabled boolean, disabled_reason text, failing_since bigint,
        last_success_at bigint, updated_at bigint)
      WHERE e.id = x.id`
    return logs
  }

  function scheduleFlush(): void {
    if (flushQueued) return
    flushQueued = true
    void (flushing ?? Promise.resolve()).then(() =>
      setImmediate(() => {
        flushing = flush().finally(() => (flushing = undefined))
      }),
    )
  }

  return {
    record(finished) {
      return new Promise((written) => {
        queued.push({ ...finished, written })
        scheduleFlush()
      })
    },
  }
}

/** What decide needs, from the locked rows. */
function deliveryState(delivery: DeliveryRow, endpoint: EndpointHealth): DeliveryState {
  return {
    attemptCount: delivery.attempt_count,
    manual: delivery.manual,
    scheduledBefore: delivery.scheduled_before,
    endpointEnabled: endpoint.enabled,
    failingSince: endpoint.failing_since,
    lastSuccessAt: endpoint.last_success_at,
  }
}

/** int8 columns arrive as strings from the raw client. */
function numberOrNull(value: number | string | null): number | null {
  return value == null ? null : Number(value)
}

/** PostgreSQL text cannot hold NUL (a receiver's body may): it becomes U+FFFD instead of failing the write forever. */
function storable(text: string | null): string | null {
  return text?.replaceAll('\0', '\uFFFD') ?? null
}

/** A delivery's new state. */
interface SettleRow {
  id: string
  status: DeliveryStatus
  attempt_count: number
  next_attempt_at: number | null
  last_status_code: number | null
  last_error: string | null
  now: number
}
