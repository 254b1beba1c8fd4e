/** The audit log on SQLite. */
import { rowidPage } from '../../db/rowid-page'
import { auditLog } from '../../db/schema'
import { write } from '../../db/unit-of-work'
import { auditWhere } from './filters'
import type { AuditStore, AuditStoreDeps } from './store'

const NOTHING_TO_WAKE = () => {}

/** The SQLite implementation of the audit store. */
export function sqliteAuditStore(deps: AuditStoreDeps): AuditStore {
  return {
    async page(workspaceId, filters, req) {
      return rowidPage(deps.db, auditLog, auditWhere(auditLog, workspaceId, filters), req)
    },
    async record(entries, now) {
      await write({ ...deps, wake: NOTHING_TO_WAKE }, (_tx, emit) => {
        for (const entry of entries) emit.audit(entry, now)
      })
    },
  }
}
