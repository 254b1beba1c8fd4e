/**
 * The dispatcher's `record` stage on SQLite, and all the SQL that stores an attempt: reads the
 * delivery's state, asks `decide` what the attempt changes, writes the attempt, the delivery and
 * the endpoint's health. Each attempt is a job of the group commit (db/group-commit.ts): attempts
 * that finish together share one transaction with each other, with the claims and with ingest
 * (a commit per recorder flush cost about as much as its statements, issue 15), and a job that
 * fails is run again alone, so a bad row holds back no other. Plain SQL on the bun:sqlite client,
 * compiled once: built through drizzle these statements cost most of the dispatcher's CPU.
 */
import type { Db } from '../db/client'
import type { StorageEngine } from '../db/engine'
import type { DeliveryStatus } from '../db/schema'
import type { Clock } from '../lib/clock'
import { newId } from '../lib/ids'
import type { Logger } from '../lib/logger'
import { decide, type Decision, type DeliveryState } from './decide'
import type { AttemptRow, FinishedAttempt } from './dispatch-store'

/** Stores finished attempts. */
export interface Recorder {
  /** Writes the attempt in the next shared commit; resolves once that write is over (failed writes are logged, not thrown). */
  record(finished: FinishedAttempt): Promise<void>
}

/** A recorder on `db` committing through `engine`; `random` returns [0, 1) and drives the retry jitter. */
export function createRecorder(db: Db, engine: StorageEngine, deps: { clock: Clock; logger: Logger }, random: () => number): Recorder {
  const { clock, logger } = deps
  const stmt = recordStatements(db)

  /** Writes the attempt and what decide made of it; returns what to log once committed. */
  function store({ deliveryId, endpointId, claimed, startedAt, outcome }: FinishedAttempt): () => void {
    const now = clock.now()
    // The delivery's own state is as claimed (the lease keeps it): one look-up in the big deliveries table fewer per attempt.
    const row = stmt.endpoint.get({ id: endpointId })
    if (!row) return () => {} // the endpoint was deleted meanwhile, and its deliveries with it
    const scheduledBefore = claimed.attempt_count === 0 ? 0 : stmt.scheduledBefore.get({ id: deliveryId })!.n
    const decision = decide(deliveryState(claimed, scheduledBefore, row), { startedAt, ...outcome }, now, random)
    const { attempt, trigger, status, nextAttemptAt, endpoint } = decision
    stmt.insertAttempt.run({
      id: newId(),
      delivery_id: deliveryId,
      attempt,
      trigger,
      started_at: startedAt,
      duration_ms: outcome.durationMs,
      status_code: outcome.statusCode,
      error_class: outcome.errorClass,
      error_message: outcome.errorMessage,
      response_body: outcome.responseBody,
      next_attempt_at: nextAttemptAt,
    })
    stmt.settle.run({
      id: deliveryId,
      status,
      attempt_count: attempt,
      next_attempt_at: nextAttemptAt,
      last_status_code: outcome.statusCode,
      last_error: outcome.errorMessage,
      now,
    })
    applyEndpointChange(endpointId, decision, now)
    return () => {
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
      if (endpoint?.kind === 'disabled') logger.warn('webhook.disabled', { endpoint_id: endpointId, workspace_id: row.workspace_id, reason: endpoint.reason })
    }
  }

  function applyEndpointChange(id: string, { endpoint }: Decision, now: number): void {
    if (endpoint === null) return
    if (endpoint.kind === 'healthy') stmt.markHealthy.run({ id, now: endpoint.lastSuccessAt })
    else if (endpoint.kind === 'failing') stmt.markFailing.run({ id, failing_since: endpoint.failingSince })
    else stmt.disable.run({ id, reason: endpoint.reason, failing_since: endpoint.failingSince, now })
  }

  return {
    async record(finished) {
      try {
        // The work may run twice (a shared transaction rolled back for another job): the log waits for the commit.
        const log = await engine.writeBatched(() => store(finished))
        log()
      } catch (error) {
        logger.error('webhook.record_failed', { delivery_id: finished.deliveryId, error: error instanceof Error ? error.message : String(error) })
      }
    },
  }
}

/** An endpoint's health as stored. */
interface EndpointRow {
  workspace_id: string
  enabled: number
  failing_since: number | null
  last_success_at: number | null
}

function deliveryState(claimed: FinishedAttempt['claimed'], scheduledBefore: number, endpoint: EndpointRow): DeliveryState {
  return {
    attemptCount: claimed.attempt_count,
    manual: claimed.manual === 1,
    scheduledBefore,
    endpointEnabled: endpoint.enabled === 1,
    failingSince: endpoint.failing_since,
    lastSuccessAt: endpoint.last_success_at,
  }
}

/** Every statement the record stage runs, compiled once per database. */
function recordStatements(db: Db) {
  const q = db.$client
  return {
    endpoint: q.query<EndpointRow, { id: string }>('select workspace_id, enabled, failing_since, last_success_at from webhook_endpoints where id = $id'),
    scheduledBefore: q.query<{ n: number }, { id: string }>("select count(*) as n from webhook_attempts where delivery_id = $id and trigger = 'scheduled'"),
    insertAttempt: q.query<never, AttemptRow>(`
      insert into webhook_attempts (id, delivery_id, attempt, trigger, started_at, duration_ms, status_code, error_class, error_message, response_body, next_attempt_at)
      values ($id, $delivery_id, $attempt, $trigger, $started_at, $duration_ms, $status_code, $error_class, $error_message, $response_body, $next_attempt_at)`),
    settle: q.query<
      never,
      {
        id: string
        status: DeliveryStatus
        attempt_count: number
        next_attempt_at: number | null
        last_status_code: number | null
        last_error: string | null
        now: number
      }
    >(`
      update webhook_deliveries set status = $status, attempt_count = $attempt_count, next_attempt_at = $next_attempt_at,
        lease_until = null, lease_owner = null, manual = 0, last_status_code = $last_status_code, last_error = $last_error, updated_at = $now
      where id = $id`),
    markHealthy: q.query<never, { id: string; now: number }>('update webhook_endpoints set last_success_at = $now, failing_since = null where id = $id'),
    markFailing: q.query<never, { id: string; failing_since: number }>('update webhook_endpoints set failing_since = $failing_since where id = $id'),
    disable: q.query<never, { id: string; reason: string; failing_since: number; now: number }>(
      'update webhook_endpoints set enabled = 0, disabled_reason = $reason, failing_since = $failing_since, updated_at = $now where id = $id',
    ),
  }
}
