/**
 * The dispatcher's hot-path statements, compiled once per database. Built through drizzle and
 * prepared by SQLite anew for every attempt they took most of the dispatcher's CPU (measured with
 * test/bench/webhooks.ts), so they are plain SQL on the bun:sqlite client, with rows as stored.
 */
import type { Db } from '../db/client'

/** A claimed delivery with what its attempt needs. */
export interface JobRow {
  id: string
  workspace_id: string
  endpoint_id: string
  event_id: string
  payload: string
  url: string
  secret: string
  previous_secret: string | null
  previous_secret_expires_at: number | null
  /** JSON object of the endpoint's static headers. */
  headers: string
  /** 1 when the endpoint has not answered 2xx lately (never, or failing since): its attempts first test the connection. */
  unproven: number
}

/** What recording an attempt needs to know about its delivery and endpoint. */
export interface DeliveryState {
  attempt_count: number
  manual: number
  endpoint_id: string
  workspace_id: string
  enabled: number
  failing_since: number | null
  last_success_at: number | null
  /** Scheduled attempts recorded so far (manual ones do not use up the schedule). */
  scheduled_before: number
}

export type AttemptRow = {
  id: string
  delivery_id: string
  attempt: number
  trigger: 'scheduled' | 'manual'
  started_at: number
  duration_ms: number
  status_code: number | null
  error_class: string | null
  error_message: string | null
  response_body: string | null
  next_attempt_at: number | null
}

/** Prepares every statement the dispatcher runs per claim or per attempt. */
export function dispatchStatements(db: Db) {
  const q = db.$client
  return {
    enabledEndpoints: q.query<{ id: string; workspace_id: string }, []>('select id, workspace_id from webhook_endpoints where enabled = 1'),
    leasedPerEndpoint: q.query<{ endpoint_id: string; n: number }, { now: number }>(
      "select endpoint_id, count(*) as n from webhook_deliveries where status = 'pending' and lease_until >= $now group by endpoint_id",
    ),
    /** Due and unleased deliveries of the given endpoints, in the due index's order: a claim stops once its slots are filled instead of ranking the whole backlog. */
    dueOldestFirst: q.query<{ id: string; endpoint_id: string }, { now: number; endpoints: string }>(`
      select id, endpoint_id from webhook_deliveries
      where status = 'pending' and next_attempt_at <= $now and (lease_until is null or lease_until < $now)
        and endpoint_id in (select value from json_each($endpoints))
      order by next_attempt_at`),
    lease: q.query<never, { ids: string; until: number; owner: string }>(
      'update webhook_deliveries set lease_until = $until, lease_owner = $owner where id in (select value from json_each($ids))',
    ),
    jobs: q.query<JobRow, { ids: string }>(`
      select d.id, d.workspace_id, d.endpoint_id, d.event_id, ev.payload, ep.url, ep.secret, ep.previous_secret, ep.previous_secret_expires_at, ep.headers,
        (ep.last_success_at is null or ep.failing_since is not null) as unproven
      from json_each($ids) j join webhook_deliveries d on d.id = j.value
        join events ev on ev.id = d.event_id join webhook_endpoints ep on ep.id = d.endpoint_id`),
    /** The earliest future retry or lease expiry, and whether something is due that could not be claimed. */
    nextWake: q.query<{ next: number | null; blocked: number | null }, { now: number }>(`
      select min(case when t > $now then t end) as next, max(t <= $now) as blocked from (
        select max(coalesce(d.next_attempt_at, 0), coalesce(d.lease_until, 0)) as t
        from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id and e.enabled = 1
        where d.status = 'pending'
      )`),
    state: q.query<DeliveryState, { id: string }>(`
      select d.attempt_count, d.manual, d.endpoint_id, ep.workspace_id, ep.enabled, ep.failing_since, ep.last_success_at,
        case when d.attempt_count = 0 then 0
          else (select count(*) from webhook_attempts a where a.delivery_id = d.id and a.trigger = 'scheduled') end as scheduled_before
      from webhook_deliveries d join webhook_endpoints ep on ep.id = d.endpoint_id
      where d.id = $id`),
    insertAttempt: q.query<never, AttemptRow>(`
      insert into webhook_attempts (id, delivery_id, attempt, trigger, started_at, duration_ms, status_code, error_class, error_message, response_body, next_attempt_at)
      values ($id, $delivery_id, $attempt, $trigger, $started_at, $duration_ms, $status_code, $error_class, $error_message, $response_body, $next_attempt_at)`),
    settle: q.query<
      never,
      { id: string; status: string; attempt_count: number; next_attempt_at: number | null; last_status_code: number | null; last_error: string | null; now: number }
    >(`
      update webhook_deliveries set status = $status, attempt_count = $attempt_count, next_attempt_at = $next_attempt_at,
        lease_until = null, lease_owner = null, manual = 0, last_status_code = $last_status_code, last_error = $last_error, updated_at = $now
      where id = $id`),
    /** Frees a claim of this process without recording an attempt (an attempt cut off by shutdown). */
    release: q.query<never, { id: string; owner: string }>(
      "update webhook_deliveries set lease_until = null, lease_owner = null where id = $id and lease_owner = $owner and status = 'pending'",
    ),
    markSuccess: q.query<never, { id: string; now: number }>('update webhook_endpoints set last_success_at = $now, failing_since = null where id = $id'),
  }
}
