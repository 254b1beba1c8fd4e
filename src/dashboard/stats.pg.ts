/** The overview's figures on PostgreSQL (see stats.ts): the same index walks as on SQLite. */
import type { PgDb } from '../db/pg/client'
import { readCounterPg } from '../db/pg/unit-of-work'
import { COUNTERS } from '../db/tx'
import { DAY_MS, type DayCount, dayLabels, firstDay } from './stats'

/** Lead counts per UTC day, oldest first, for the `days` days ending today. */
export async function leadsPerDayPg(pg: PgDb, workspaceId: string, now: number, days: number): Promise<DayCount[]> {
  const since = firstDay(now, days)
  const firstSeq = await firstLeadSeqSince(pg, workspaceId, since)
  const counts = new Map<number, number>()
  if (firstSeq !== null) {
    const rows: { day: string; n: string }[] = await pg.$client`
      SELECT (created_at - ${since}) / ${DAY_MS} AS day, count(*) AS n FROM leads
      WHERE workspace_id = ${workspaceId} AND seq >= ${firstSeq} AND created_at >= ${since}
      GROUP BY 1`
    for (const r of rows) counts.set(Number(r.day), Number(r.n))
  }
  return dayLabels(since, days, counts)
}

/**
 * The first lead sequence number created at or after `since`, by binary search over the
 * (workspace, seq) index: leads are numbered in insertion order, so their times ascend with seq.
 */
async function firstLeadSeqSince(pg: PgDb, workspaceId: string, since: number): Promise<number | null> {
  const createdAt = async (seq: number) => {
    const [row] = await pg.$client`SELECT created_at FROM leads WHERE workspace_id = ${workspaceId} AND seq = ${seq}`
    return row ? Number(row.created_at) : Number.POSITIVE_INFINITY
  }
  const last = await readCounterPg(pg, workspaceId, COUNTERS.leads)
  let lo = 1
  let hi = last + 1
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if ((await createdAt(mid)) >= since) hi = mid
    else lo = mid + 1
  }
  return lo > last ? null : lo
}

/** Leads per source, largest first, from the kept per-source counters. */
export async function leadsBySourcePg(pg: PgDb, workspaceId: string): Promise<{ source: string; count: number }[]> {
  const rows: { name: string; value: string }[] = await pg.$client`
    SELECT name, value FROM counters WHERE workspace_id = ${workspaceId} AND starts_with(name, ${COUNTERS.leadsSourcePrefix})
    ORDER BY value DESC`
  return rows.map((r) => ({ source: r.name.slice(COUNTERS.leadsSourcePrefix.length), count: Number(r.value) }))
}

/** Totals kept as counters: every lead and every contact of the workspace. */
export async function totalsPg(pg: PgDb, workspaceId: string): Promise<{ leads: number; contacts: number }> {
  const [leads, contacts] = await Promise.all([readCounterPg(pg, workspaceId, COUNTERS.leads), readCounterPg(pg, workspaceId, COUNTERS.contacts)])
  return { leads, contacts }
}
