/**
 * The dispatcher's `claim` stage on PostgreSQL, where several nodes claim from one table at once.
 * SQLite's claim ported as it is handed one delivery to several nodes (13,800 duplicate claims of
 * 20,000 in issue 14's trial) and deadlocked. Here:
 * - the rows are taken `FOR NO KEY UPDATE SKIP LOCKED`: a row another transaction holds is passed
 *   over, never waited for (NO KEY: an insert referencing the row is not held up);
 * - the claimers of one endpoint queue on a transaction-level advisory lock on it and count its live
 *   leases, every node's, under that lock: the per-endpoint in-flight cap holds across nodes. The
 *   locks are taken in sorted order, and a claimer waits on nothing else, so claimers never deadlock;
 * - leases are only ever freed under this node's owner id.
 * The fair shares of this node's slots (fair-share.ts) are planned from a look at each endpoint's
 * oldest due deliveries before any lock is taken, as SQLite's claim plans them.
 */
import type { PgDb } from '../db/pg/client'
import type { Clock } from '../lib/clock'
import type { Logger } from '../lib/logger'
import { deadLocalOwners, type ClaimedJob, type ClaimLimit, type ClaimLimits, type NextWake } from './dispatch-store'
import { InFlightShares } from './fair-share'

/** Prefix of the advisory lock key a claim takes per endpoint (hashed like db/pg/unit-of-work.ts lockKeys). */
const ENDPOINT_LOCK_PREFIX = 'webhook-claim:'

/** The claim stage's operations on PostgreSQL. */
export interface PgClaimer {
  claim(limit: ClaimLimit): Promise<ClaimedJob[]>
  finished(job: ClaimedJob): void
  release(job: ClaimedJob): Promise<void>
  releaseDeadLeases(): Promise<void>
  nextWake(now: number): Promise<NextWake>
  /** Frees every lease this node still holds (at stop), so other nodes resume them at once instead of after the lease. */
  releaseOwn(): Promise<void>
}

/** An enabled endpoint, its cap and the live leases on it (every node's), once per due delivery it has room for or once with `due` false. */
interface PlanRow {
  id: string
  workspace_id: string
  max_in_flight: number
  leased: number
  due: boolean
}

/** A claimer on `pg` for this node. */
export function createPgClaimer(pg: PgDb, deps: { clock: Clock; logger: Logger }, limits: ClaimLimits): PgClaimer {
  const { clock, logger } = deps
  const { owner, leaseMs } = limits
  const sql = pg.$client
  const shares = new InFlightShares(limits.maxInFlight)

  async function claim(claimLimit: ClaimLimit): Promise<ClaimedJob[]> {
    const limit = typeof claimLimit === 'number' ? claimLimit : claimLimit()
    if (limit <= 0) return []
    const now = clock.now()
    // Plan without locks, in one read: every enabled endpoint, its live leases and its oldest due deliveries (as many as could fit).
    const rows: PlanRow[] = await sql`
      SELECT e.id, e.workspace_id, e.max_in_flight, l.leased, d.next_attempt_at IS NOT NULL AS due
      FROM webhook_endpoints e
      CROSS JOIN LATERAL (
        SELECT count(*)::int AS leased FROM webhook_deliveries WHERE status = 'pending' AND lease_until >= ${now} AND endpoint_id = e.id
      ) l
      LEFT JOIN LATERAL (
        SELECT next_attempt_at FROM webhook_deliveries
        WHERE endpoint_id = e.id AND status = 'pending' AND next_attempt_at <= ${now} AND (lease_until IS NULL OR lease_until < ${now})
        ORDER BY next_attempt_at LIMIT greatest(0, e.max_in_flight - l.leased)
      ) d ON true
      WHERE e.enabled
      ORDER BY d.next_attempt_at`
    const plan = shares.plan(rows.map((e) => ({ id: e.id, workspaceId: e.workspace_id, cap: e.max_in_flight, free: e.max_in_flight - e.leased })))

    // Slots counted in the fair shares while planning: given back for rows the claim did not get, or all of them if it fails.
    const planned = new Map<string, { workspaceId: string; n: number }>()
    let total = 0
    for (const { id, due } of rows) {
      if (!due || plan.room(id) <= 0) continue
      const workspaceId = plan.take(id)
      const planning = planned.get(id) ?? { workspaceId, n: 0 }
      planning.n++
      planned.set(id, planning)
      if (++total === limit || plan.full()) break
    }
    if (planned.size === 0) return []

    try {
      const ids = [...planned.keys()].sort()
      const jobs = await sql.begin(async (tx) => {
        // Sent together, run in order: the claim's snapshot is taken once the locks are held, so it sees
        // the leases of whoever held them before. Under them: recount the live leases, take what still fits.
        const [, claimed] = await Promise.all([
          tx`
            SELECT pg_advisory_xact_lock(hashtextextended(${ENDPOINT_LOCK_PREFIX} || k, 0))
            FROM unnest(${ids}::text[]) WITH ORDINALITY AS t(k, ord) ORDER BY ord`.execute(),
          tx`
            WITH plan AS (
              SELECT * FROM unnest(${ids}::text[], ${ids.map((id) => planned.get(id)!.n)}::int[]) AS p(endpoint_id, wanted)
            ), live AS (
              SELECT endpoint_id, count(*)::int AS n FROM webhook_deliveries
              WHERE status = 'pending' AND lease_until >= ${now} AND endpoint_id = ANY(${ids}::text[])
              GROUP BY endpoint_id
            ), picked AS (
              SELECT d.id FROM plan p LEFT JOIN live l USING (endpoint_id) JOIN webhook_endpoints ep ON ep.id = p.endpoint_id
              CROSS JOIN LATERAL (
                SELECT id FROM webhook_deliveries
                WHERE endpoint_id = p.endpoint_id AND status = 'pending' AND next_attempt_at <= ${now} AND (lease_until IS NULL OR lease_until < ${now})
                ORDER BY next_attempt_at
                LIMIT greatest(0, least(p.wanted, ep.max_in_flight - coalesce(l.n, 0)))
                FOR NO KEY UPDATE SKIP LOCKED
              ) d
            ), leased AS (
              UPDATE webhook_deliveries d SET lease_until = ${now + leaseMs}, lease_owner = ${owner}
              FROM picked WHERE d.id = picked.id
              RETURNING d.id, d.workspace_id, d.endpoint_id, d.event_id, d.attempt_count, d.manual::int AS manual, d.next_attempt_at
            )
            SELECT l.id, l.workspace_id, l.endpoint_id, l.event_id, l.attempt_count, l.manual, ev.payload, ep.url, ep.secret, ep.previous_secret,
              ep.previous_secret_expires_at, ep.headers, (ep.last_success_at IS NULL OR ep.failing_since IS NOT NULL)::int AS unproven
            FROM leased l JOIN events ev ON ev.id = l.event_id JOIN webhook_endpoints ep ON ep.id = l.endpoint_id
            ORDER BY l.next_attempt_at`.execute(),
        ])
        return claimed as ClaimedJob[]
      })
      const got = new Map<string, number>()
      for (const job of jobs) got.set(job.endpoint_id, (got.get(job.endpoint_id) ?? 0) + 1)
      for (const [endpointId, plan] of planned) for (let i = got.get(endpointId) ?? 0; i < plan.n; i++) shares.remove(plan.workspaceId, endpointId)
      return jobs.map((job) => ({
        ...job,
        previous_secret_expires_at: job.previous_secret_expires_at == null ? null : Number(job.previous_secret_expires_at),
      }))
    } catch (error) {
      for (const [endpointId, plan] of planned) for (let i = 0; i < plan.n; i++) shares.remove(plan.workspaceId, endpointId)
      throw error
    }
  }

  return {
    claim,
    finished: (job) => shares.remove(job.workspace_id, job.endpoint_id),
    async release(job) {
      await sql`UPDATE webhook_deliveries SET lease_until = NULL, lease_owner = NULL WHERE id = ${job.id} AND lease_owner = ${owner} AND status = 'pending'`
      logger.warn('webhook.attempt_interrupted', { delivery_id: job.id, reason: 'shutdown' })
    },
    async releaseDeadLeases() {
      const owners: { owner: string }[] = await sql`
        SELECT DISTINCT lease_owner AS owner FROM webhook_deliveries WHERE status = 'pending' AND lease_until IS NOT NULL AND lease_owner IS NOT NULL`
      const dead = deadLocalOwners(
        owners.map((row) => row.owner),
        owner,
      )
      if (dead.length === 0) return
      await sql`UPDATE webhook_deliveries SET lease_until = NULL, lease_owner = NULL WHERE status = 'pending' AND lease_owner = ANY(${dead}::text[])`
      logger.info('webhook.leases_released', { owners: dead })
    },
    async nextWake(now) {
      const [row]: { next: string | null; blocked: boolean | null }[] = await sql`
        SELECT min(CASE WHEN t > ${now} THEN t END) AS next, bool_or(t <= ${now}) AS blocked FROM (
          SELECT greatest(coalesce(d.next_attempt_at, 0), coalesce(d.lease_until, 0)) AS t
          FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
          WHERE d.status = 'pending'
        ) s`
      return { next: row?.next == null ? null : Number(row.next), blocked: Boolean(row?.blocked) }
    },
    async releaseOwn() {
      const released = await sql`
        UPDATE webhook_deliveries SET lease_until = NULL, lease_owner = NULL
        WHERE status = 'pending' AND lease_until IS NOT NULL AND lease_owner = ${owner}`
      if (released.count > 0) logger.info('webhook.leases_released', { owners: [owner], deliveries: released.count })
    },
  }
}
