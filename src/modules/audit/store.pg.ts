/** The audit log on PostgreSQL. */
import { and, eq, gte, type SQL } from 'drizzle-orm'
import type { PgDb } from '../../db/pg/client'
import { rowidPagePg } from '../../db/pg/pages'
import { auditLog } from '../../db/pg/schema'
import { writePg } from '../../db/pg/unit-of-work'
import type { AuditFilters, AuditRow, AuditStore, AuditStoreDeps } from './store'

const NOTHING_TO_WAKE = () => {}

function where(workspaceId: string, filters: AuditFilters): SQL {
  const conditions: SQL[] = [eq(auditLog.workspaceId, workspaceId)]
  if (filters.action) conditions.push(eq(auditLog.action, filters.action))
  if (filters.since !== undefined) conditions.push(gte(auditLog.createdAt, filters.since))
  return and(...conditions)!
}

/** A row without its insertion-order column: the engine-neutral AuditRow. */
function withoutRowid(row: typeof auditLog.$inferSelect): AuditRow {
  const { rowid: _, ...entry } = row
  return entry
}

/** The PostgreSQL implementation of the audit store. */
export function pgAuditStore(deps: AuditStoreDeps & { pg: PgDb }): AuditStore {
  return {
    async page(workspaceId, filters, req) {
      const { rows, total, hasMore } = await rowidPagePg(deps.pg, auditLog, where(workspaceId, filters), req)
      return { rows: rows.map(({ seq, row }) => ({ seq, row: withoutRowid(row) })), total, hasMore }
    },
    async record(entry, now) {
      await writePg({ ...deps, wake: NOTHING_TO_WAKE }, (_tx, emit) => emit.audit(entry, now))
    },
  }
}
