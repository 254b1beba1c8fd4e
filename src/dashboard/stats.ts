/**
 * Read-only figures for the overview page, built on the kept counters and the dense lead
 * sequence so they stay fast with millions of leads (no full scans, no COUNT(*)); the queries of
 * each engine are in stats.sqlite.ts and stats.pg.ts.
 */
import type { ReadDeps } from '../deps'
import { leadsBySourcePg, leadsPerDayPg, totalsPg } from './stats.pg'
import { leadsBySourceSqlite, leadsPerDaySqlite, totalsSqlite } from './stats.sqlite'

export const DAY_MS = 24 * 60 * 60 * 1000

/** Leads on one UTC day. */
export interface DayCount {
  day: string
  count: number
}

/** The start (UTC midnight) of the first of the `days` days ending on the day of `now`. */
export function firstDay(now: number, days: number): number {
  return Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS
}

/** Every day from `since`, labelled YYYY-MM-DD, with its count by day index (0 when absent). */
export function dayLabels(since: number, days: number, counts: Map<number, number>): DayCount[] {
  return Array.from({ length: days }, (_, i) => ({ day: new Date(since + i * DAY_MS).toISOString().slice(0, 10), count: counts.get(i) ?? 0 }))
}

/** Lead counts per UTC day, oldest first, for the `days` days ending today. */
export function leadsPerDay(deps: ReadDeps, workspaceId: string, now: number, days: number): Promise<DayCount[]> {
  return deps.pg ? leadsPerDayPg(deps.pg, workspaceId, now, days) : Promise.resolve(leadsPerDaySqlite(deps.db, workspaceId, now, days))
}

/** Leads per source, largest first, from the kept per-source counters. */
export function leadsBySource(deps: ReadDeps, workspaceId: string): Promise<{ source: string; count: number }[]> {
  return deps.pg ? leadsBySourcePg(deps.pg, workspaceId) : Promise.resolve(leadsBySourceSqlite(deps.db, workspaceId))
}

/** Totals kept as counters: every lead and every contact of the workspace. */
export function totals(deps: ReadDeps, workspaceId: string): Promise<{ leads: number; contacts: number }> {
  return deps.pg ? totalsPg(deps.pg, workspaceId) : Promise.resolve(totalsSqlite(deps.db, workspaceId))
}
