/** The storage of the audit log: one interface, a SQLite and a PostgreSQL implementation (store.sqlite.ts, store.pg.ts). */
import type { AuditEntry } from '../../db/audit'
import type { auditLog } from '../../db/schema'
import type { ServiceDeps } from '../../deps'
import type { PageRequest } from '../../lib/pagination'
import { pgAuditStore } from './store.pg'
import { sqliteAuditStore } from './store.sqlite'

export type AuditRow = typeof auditLog.$inferSelect

/** Filters of a page of the log. */
export interface AuditFilters {
  action?: string
  /** Unix ms: entries at or after it. */
  since?: number
}

/** What the audit service needs of storage. */
export interface AuditStore {
  /** One page of a workspace's entries, newest first, each with its insertion order as the cursor. */
  page(workspaceId: string, filters: AuditFilters, req: PageRequest): Promise<{ rows: { seq: number; row: AuditRow }[]; total: number; hasMore: boolean }>
  /** Records entries in a transaction of their own (an action that changes nothing else: a sign-in, an export). */
  record(entries: AuditEntry[], now: number): Promise<void>
}

export type AuditStoreDeps = Pick<ServiceDeps, 'db' | 'pg'> & Partial<Pick<ServiceDeps, 'engine' | 'actor'>>

/** The audit store of the engine the deps run on. */
export function auditStore(deps: AuditStoreDeps): AuditStore {
  return deps.pg ? pgAuditStore({ ...deps, pg: deps.pg }) : sqliteAuditStore(deps)
}
