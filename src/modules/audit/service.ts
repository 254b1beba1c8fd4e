/**
 * The audit log: who created or revoked keys, changed webhooks, members and workspaces, signed in,
 * exported or erased, when and from which IP. Changes record themselves inside their own unit of
 * work (`emit.audit`); `recordAudit` is for actions that change nothing else.
 */
import type { AuditEntry } from '../../db/audit'
import type { ServiceDeps } from '../../deps'
import type { Actor } from '../../lib/actor'
import { iso, parseTimestamp } from '../../lib/clock'
import { buildPage, type PageRequest } from '../../lib/pagination'
import type { AuditModel } from './model'
import { auditStore, type AuditRow, type AuditStoreDeps } from './store'

/** Deps acting for `actor`: what its writes record in the audit log. */
export function actingAs<D extends object>(deps: D, actor: Actor): D & { actor: Actor } {
  return { ...deps, actor }
}

/** Records an action that changes nothing else (a sign-in, an export), in a transaction of its own; several entries commit together. */
export function recordAudit(deps: AuditStoreDeps & Pick<ServiceDeps, 'clock'>, entry: AuditEntry | AuditEntry[]): Promise<void> {
  return auditStore(deps).record([entry].flat(), deps.clock.now())
}

/** One page of a workspace's log, newest first. */
export async function listAuditPage(deps: AuditStoreDeps, workspaceId: string, query: { action?: string; since?: string }, req: PageRequest) {
  const filters = { action: query.action, since: query.since === undefined ? undefined : parseTimestamp(query.since, '/since') }
  const { rows, total, hasMore } = await auditStore(deps).page(workspaceId, filters, req)
  return buildPage(
    req,
    rows.map(({ seq, row }) => ({ seq, item: serializeAudit(row) })),
    total,
    hasMore,
  )
}

export function serializeAudit(row: AuditRow): AuditModel.entry {
  return {
    id: row.id,
    object: 'audit_entry',
    action: row.action,
    actor: { type: row.actorType, id: row.actorId, label: row.actorLabel },
    ip: row.ip,
    target: { type: row.targetType, id: row.targetId },
    details: row.details,
    created_at: iso(row.createdAt)!,
  }
}
