/**
 * The audit log's writes: one row per action, inserted in the transaction of the change it records
 * (`emit.audit(...)` in a unit of work), so a change and its record commit or vanish together.
 */
import type { Actor } from '../lib/actor'
import { newId } from '../lib/ids'
import { rawStatement } from './prepared'
import type { DbOrTx } from './tx'

/** Every action the log records; the API documents this list. */
export const AUDIT_ACTIONS = [
  'session.signed_in',
  'workspace.created',
  'workspace.renamed',
  'workspace.deleted',
  'member.invited',
  'member.joined',
  'member.role_changed',
  'member.removed',
  'invite.revoked',
  'operator.created',
  'key.created',
  'key.revoked',
  'source.created',
  'source.rotated',
  'source.revoked',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.secret_rotated',
  'contacts.exported',
  'leads.exported',
  'contacts.imported',
  'contact.erased',
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

/** What an action was done to: a key, an endpoint, a member, a contact… (null id: the workspace itself or a whole list). */
export interface AuditTarget {
  type: string
  id: string | null
}

/** One action to record; the actor comes from the unit of work's deps. */
export interface AuditEntry {
  /** The workspace it happened in; null for actions of an operator outside any workspace. */
  workspaceId: string | null
  action: AuditAction
  target: AuditTarget
  /** Small facts worth keeping (a new name, a row count, the filters of an export); never secrets or erased data. */
  details?: Record<string, unknown>
}

/** An entry with its time, as a store's write takes it to record inside its transaction. */
export interface AuditNote {
  entry: AuditEntry
  now: number
}

/** The row as both engines store it (snake_case columns). */
export function auditRow(actor: Actor, entry: AuditEntry, now: number) {
  return {
    id: newId(),
    workspace_id: entry.workspaceId,
    actor_type: actor.type,
    actor_id: actor.id,
    actor_label: actor.label,
    ip: actor.ip,
    action: entry.action,
    target_type: entry.target.type,
    target_id: entry.target.id,
    details: JSON.stringify(entry.details ?? {}),
    created_at: now,
  }
}

/** Records `entry` as done by `actor` inside `tx` (SQLite). */
export function insertAudit(tx: DbOrTx, actor: Actor, entry: AuditEntry, now: number): void {
  const row = auditRow(actor, entry, now)
  rawStatement(
    tx,
    'auditLog.insert',
    `INSERT INTO audit_log (id, workspace_id, actor_type, actor_id, actor_label, ip, action, target_type, target_id, details, created_at)
     VALUES ($id, $workspace_id, $actor_type, $actor_id, $actor_label, $ip, $action, $target_type, $target_id, $details, $created_at)`,
  ).run(row)
}
