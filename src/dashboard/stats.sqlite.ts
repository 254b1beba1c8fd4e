/** The overview's figures on SQLite (see stats.ts). */
import { and, desc, eq, gte, like, sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import { counters, leads } from '../db/schema'
import { COUNTERS, readCounter } from '../db/tx'
import { DAY_MS, dayLabels, firstDay } from './stats'

/** Lead counts per UTC day, oldest first, for the `days` days ending today. */
export function leadsPerDaySqlite(db: Db, workspaceId: string, now: number, days: number): { day: string; count: number }[] {
  const since = firstDay(now, days)
  const firstSeq = firstLeadSeqSince(db, workspaceId, since)
  const counts = new Map<number, number>()
  if (firstSeq !== null) {
    const dayIndex = sql<number>`(${leads.createdAt} - ${since}) / ${DAY_MS}`
    const rows = db
      .select({ day: dayIndex, n: sql<number>`count(*)` })
      .from(leads)
      .where(and(eq(leads.workspaceId, workspaceId), gte(leads.seq, firstSeq), gte(leads.createdAt, since)))
      .groupBy(dayIndex)
      .all()
    for (const r of rows) counts.set(Number(r.day), r.n)
  }
  return dayLabels(since, days, counts)
}

/**
 * The first lead sequence number created at or after `since`, by binary search over the
 * (workspace, seq) index: leads are numbered in insertion order, so their times ascend with seq.
 */
function firstLeadSeqSince(db: Db, workspaceId: string, since: number): number | null {
  const createdAt = (seq: number) =>
    db
      .select({ t: leads.createdAt })
      .from(leads)
      .where(and(eq(leads.workspaceId, workspaceId), eq(leads.seq, seq)))
      .get()?.t ?? Number.POSITIVE_INFINITY
  let lo = 1
  let hi = readCounter(db, workspaceId, COUNTERS.leads) + 1
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if (createdAt(mid) >= since) hi = mid
    else lo = mid + 1
  }
  return lo > readCounter(db, workspaceId, COUNTERS.leads) ? null : lo
}

/** Leads per source, largest first, from the kept per-source counters. */
export function leadsBySourceSqlite(db: Db, workspaceId: string): { source: string; count: number }[] {
  return db
    .select({ name: counters.name, value: counters.value })
    .from(counters)
    .where(and(eq(counters.workspaceId, workspaceId), like(counters.name, `${COUNTERS.leadsSourcePrefix}%`)))
    .orderBy(desc(counters.value))
    .all()
    .map((r) => ({ source: r.name.slice(COUNTERS.leadsSourcePrefix.length), count: r.value }))
}

/** Totals kept as counters: every lead and every contact of the workspace. */
export function totalsSqlite(db: Db, workspaceId: string): { leads: number; contacts: number } {
  return { leads: readCounter(db, workspaceId, COUNTERS.leads), contacts: readCounter(db, workspaceId, COUNTERS.contacts) }
}
