/**
 * Read-only figures for the overview page, built on the kept counters and the dense lead
 * sequence so they stay fast with millions of leads (no full scans, no COUNT(*)).
 */
import { and, desc, eq, gte, like, sql } from 'drizzle-orm'
import type { Db } from '../db/client'
import { counters, leads } from '../db/schema'
import { COUNTERS, readCounter } from '../db/tx'

const DAY_MS = 24 * 60 * 60 * 1000

/** Lead counts per UTC day, oldest first, for the `days` days ending today. */
export function leadsPerDay(db: Db, workspaceId: string, now: number, days: number): { day: string; count: number }[] {
  const since = Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS
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
  return Array.from({ length: days }, (_, i) => ({ day: new Date(since + i * DAY_MS).toISOString().slice(0, 10), count: counts.get(i) ?? 0 }))
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
export function leadsBySource(db: Db, workspaceId: string): { source: string; count: number }[] {
  return db
    .select({ name: counters.name, value: counters.value })
    .from(counters)
    .where(and(eq(counters.workspaceId, workspaceId), like(counters.name, `${COUNTERS.leadsSourcePrefix}%`)))
    .orderBy(desc(counters.value))
    .all()
    .map((r) => ({ source: r.name.slice(COUNTERS.leadsSourcePrefix.length), count: r.value }))
}

/** Totals kept as counters: every lead and every contact of the workspace. */
export function totals(db: Db, workspaceId: string): { leads: number; contacts: number } {
  return { leads: readCounter(db, workspaceId, COUNTERS.leads), contacts: readCounter(db, workspaceId, COUNTERS.contacts) }
}
