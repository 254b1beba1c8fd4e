/**
 * The dispatcher's `claim` stage on SQLite: leases due deliveries to this process (owner and expiry
 * on the row), within each endpoint's in-flight cap (its `max_in_flight`) across processes and the
 * fair shares of this process's slots (fair-share.ts). Built through drizzle and prepared by SQLite anew for every claim, its
 * statements took most of the dispatcher's CPU (measured with test/bench/webhooks.ts), so they are
 * plain SQL on the bun:sqlite client, compiled once, with rows as stored. A claim joins the group
 * commit (db/group-commit.ts) instead of committing alone: under load a commit of its own per claim
 * cost as much as its statements (issue 15's profile), and ingest and the recorder commit in the same
 * transaction anyway.
 */
import type { Db } from '../db/client'
import type { StorageEngine } from '../db/engine'
import type { Clock } from '../lib/clock'
import type { Logger } from '../lib/logger'
import { deadLocalOwners, type ClaimedJob, type ClaimLimit, type ClaimLimits, type NextWake } from './dispatch-store'
import { InFlightShares } from './fair-share'

/** Leases due deliveries to this process and frees them again. */
export interface Claimer {
  /**
   * Claims up to `limit` due deliveries, oldest due first within each endpoint's fair share of the
   * slots, keeping every endpoint under its in-flight cap across processes; returns what their
   * attempts need, read in the same transaction; resolves once the leases are committed. A function
   * `limit` is read when the claim runs (in a shared commit, after the writes queued before it).
   */
  claim(limit: ClaimLimit): Promise<ClaimedJob[]>
  /**
   * Deliveries of this process whose attempt is over and whose outcome is being written: their
   * leases are not counted under their endpoint's cap, as nothing of theirs is in flight any more.
   */
  readonly settling: Set<string>
  /** Gives back the job's slot in this process's fair shares once its attempt is over. */
  finished(job: ClaimedJob): void
  /** Frees a claim of this process without recording an attempt (an attempt cut off by shutdown). */
  release(job: ClaimedJob): void
  /** Frees the claims of processes on this host that no longer run (kill -9, crash), so their work resumes at once. */
  releaseDeadLeases(): void
  /** The earliest future retry or lease expiry, and whether something due is waiting for a slot. */
  nextWake(now: number): NextWake
}

/** A slot of this process's fair shares, held by a claimed delivery. */
interface Slot {
  workspaceId: string
  endpointId: string
}

/** A claimer on `db` for this process, committing its leases through `engine`. */
export function createClaimer(db: Db, engine: StorageEngine, deps: { clock: Clock; logger: Logger }, limits: ClaimLimits): Claimer {
  const { clock, logger } = deps
  const { owner, leaseMs } = limits
  const stmt = claimStatements(db)
  const shares = new InFlightShares(limits.maxInFlight)
  const settling = new Set<string>()

  async function claim(limit: ClaimLimit): Promise<ClaimedJob[]> {
    /** Slots the latest run of the work counted in the fair shares: a shared transaction may run it again, or roll back. */
    const counted: Slot[] = []
    const uncount = () => {
      for (const slot of counted.splice(0)) shares.remove(slot.workspaceId, slot.endpointId)
    }
    try {
      return await engine.writeBatched(() => {
        uncount()
        // The time too is read when the claim runs: deliveries queued earlier in the same commit are due.
        return leaseDue(typeof limit === 'number' ? limit : limit(), clock.now(), counted)
      })
    } catch (error) {
      uncount()
      throw error
    }
  }

  /** Inside the claim's transaction: picks due deliveries within the caps and shares (counting them in `counted`), leases them, reads their jobs. */
  function leaseDue(limit: number, now: number, counted: Slot[]): ClaimedJob[] {
    const leased = new Map(stmt.leasedPerEndpoint.all({ now, settling: JSON.stringify([...settling]) }).map((r) => [r.endpoint_id, r.n]))
    const plan = shares.plan(
      stmt.enabledEndpoints
        .all()
        .map((e) => ({ id: e.id, workspaceId: e.workspace_id, cap: e.max_in_flight, free: e.max_in_flight - (leased.get(e.id) ?? 0) })),
    )
    if (limit <= 0 || plan.open.length === 0) return []
    const ids: string[] = []
    for (const row of stmt.dueOldestFirst.iterate({ now, endpoints: JSON.stringify(plan.open) })) {
      if (plan.room(row.endpoint_id) <= 0) continue
      counted.push({ workspaceId: plan.take(row.endpoint_id), endpointId: row.endpoint_id })
      ids.push(row.id)
      if (ids.length === limit || plan.full()) break
    }
    if (ids.length === 0) return []
    const json = JSON.stringify(ids)
    stmt.lease.run({ ids: json, until: now + leaseMs, owner })
    const jobs = new Map(stmt.jobs.all({ ids: json }).map((job) => [job.id, job]))
    return ids.map((id) => jobs.get(id)!)
  }

  function releaseDeadLeases(): void {
    const dead = deadLocalOwners(
      stmt.leaseOwners.all().map((row) => row.owner),
      owner,
    )
    if (dead.length === 0) return
    stmt.releaseOwners.run({ owners: JSON.stringify(dead) })
    logger.info('webhook.leases_released', { owners: dead })
  }

  return {
    claim,
    settling,
    finished: (job) => shares.remove(job.workspace_id, job.endpoint_id),
    release(job) {
      stmt.release.run({ id: job.id, owner })
      logger.warn('webhook.attempt_interrupted', { delivery_id: job.id, reason: 'shutdown' })
    },
    releaseDeadLeases,
    nextWake(now) {
      const row = stmt.nextWake.get({ now })
      return { next: row?.next ?? null, blocked: Boolean(row?.blocked) }
    },
  }
}

/** Every statement the claim stage runs, compiled once per database. */
function claimStatements(db: Db) {
  const q = db.$client
  return {
    enabledEndpoints: q.query<{ id: string; workspace_id: string; max_in_flight: number }, []>(
      'select id, workspace_id, max_in_flight from webhook_endpoints where enabled = 1',
    ),
    leasedPerEndpoint: q.query<{ endpoint_id: string; n: number }, { now: number; settling: string }>(`
      select endpoint_id, count(*) as n from webhook_deliveries
      where status = 'pending' and lease_until >= $now and id not in (select value from json_each($settling))
      group by endpoint_id`),
    /** Due and unleased deliveries of the given endpoints, in the due index's order: a claim stops once its slots are filled instead of ranking the whole backlog. */
    dueOldestFirst: q.query<{ id: string; endpoint_id: string }, { now: number; endpoints: string }>(`
      select id, endpoint_id from webhook_deliveries
      where status = 'pending' and next_attempt_at <= $now and (lease_until is null or lease_until < $now)
        and endpoint_id in (select value from json_each($endpoints))
      order by next_attempt_at`),
    lease: q.query<never, { ids: string; until: number; owner: string }>(
      'update webhook_deliveries set lease_until = $until, lease_owner = $owner where id in (select value from json_each($ids))',
    ),
    jobs: q.query<ClaimedJob, { ids: string }>(`
      select d.id, d.workspace_id, d.endpoint_id, d.event_id, d.attempt_count, d.manual, ev.payload, ep.url, ep.secret, ep.previous_secret, ep.previous_secret_expires_at, ep.headers,
        (ep.last_success_at is null or ep.failing_since is not null) as unproven
      from json_each($ids) j join webhook_deliveries d on d.id = j.value
        join events ev on ev.id = d.event_id join webhook_endpoints ep on ep.id = d.endpoint_id`),
    nextWake: q.query<{ next: number | null; blocked: number | null }, { now: number }>(`
      select min(case when t > $now then t end) as next, max(t <= $now) as blocked from (
        select max(coalesce(d.next_attempt_at, 0), coalesce(d.lease_until, 0)) as t
        from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id and e.enabled = 1
        where d.status = 'pending'
      )`),
    release: q.query<never, { id: string; owner: string }>(
      "update webhook_deliveries set lease_until = null, lease_owner = null where id = $id and lease_owner = $owner and status = 'pending'",
    ),
    leaseOwners: q.query<{ owner: string }, []>('select distinct lease_owner as owner from webhook_deliveries where lease_owner is not null'),
    releaseOwners: q.query<never, { owners: string }>(
      'update webhook_deliveries set lease_until = null, lease_owner = null where lease_owner in (select value from json_each($owners))',
    ),
  }
}
