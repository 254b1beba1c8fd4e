/** The audit log on SQLite. */
import { and, eq, gte, type SQL } from 'drizzle-orm'
import { rowidPage } from '../../db/rowid-page'
import { auditLog } from '../../db/schema'
import { write } from '../../db/unit-of-work'
import type { AuditFilters, AuditStore, AuditStoreDeps } from './store'

const NOTHING_TO_WAKE = () => {}

/** The conditions of a page's filters (the workspace first: its index serves every page). */
function where(workspaceId: string, filters: AuditFilters): SQL {
  const conditions: SQL[] = [eq(auditLog.workspaceId, workspaceId)]
  if (filters.action) conditions.push(eq(auditLog.action, filters.action))
  if (filters.since !== undefined) conditions.push(gte(auditLog.createdAt, filters.since))
  return and(...conditions)!
}

/** The SQLite implementation of the audit store. */
export function sqliteAuditStore(deps: AuditStoreDeps): AuditStore {
  return {
    async page(workspaceId, filters, req) {
      return rowidPage(deps.db, auditLog, where(workspaceId, filters), req)
    },
    async record(entry, now) {
      await write({ ...deps, wake: NOTHING_TO_WAKE }, (_tx, emit) => emit.audit(entry, now))
    },
  }
}
