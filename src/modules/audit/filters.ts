/** The conditions of a page of the log, alike on both engines' tables. */
import { and, eq, gte, type Column, type SQL } from 'drizzle-orm'
import type { AuditFilters } from './store'

/** The workspace first (its index serves every page), then the filters given. */
export function auditWhere(table: { workspaceId: Column; action: Column; createdAt: Column }, workspaceId: string, filters: AuditFilters): SQL {
  const conditions: SQL[] = [eq(table.workspaceId, workspaceId)]
  if (filters.action) conditions.push(eq(table.action, filters.action))
  if (filters.since !== undefined) conditions.push(gte(table.createdAt, filters.since))
  return and(...conditions)!
}
