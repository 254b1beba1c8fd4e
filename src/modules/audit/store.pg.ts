/** The audit log on PostgreSQL. */
import type { PgDb } from '../../db/pg/client'
import { rowidPagePg } from '../../db/pg/pages'
import { auditLog } from '../../db/pg/schema'
import { writePg } from '../../db/pg/unit-of-work'
import { auditWhere } from './filters'
import type { AuditRow, AuditStore, AuditStoreDeps } from './store'

const NOTHING_TO_WAKE = () => {}

/** A row without its insertion-order column: the engine-neutral AuditRow. */
function withoutRowid(row: typeof auditLog.$inferSelect): AuditRow {
  const { rowid: _, ...entry } = row
  return entry
}

/** The PostgreSQL implementation of the audit store. */
export function pgAuditStore(deps: AuditStoreDeps & { pg: PgDb }): AuditStore {
  return {
    async page(workspaceId, filters, req) {
      const { rows, total, hasMore } = await rowidPagePg(deps.pg, auditLog, auditWhere(auditLog, workspaceId, filters), req)
      return { rows: rows.map(({ seq, row }) => ({ seq, row: withoutRowid(row) })), total, hasMore }
    },
    async record(entries, now) {
      await writePg({ ...deps, wake: NOTHING_TO_WAKE }, async (_tx, emit) => {
        for (const entry of entries) await emit.audit(entry, now)
      })
    },
  }
}
