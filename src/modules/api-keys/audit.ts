/** The audit-log entries of key changes, alike on both engines. */
import type { ApiKey } from '../../db/api-key'
import type { AuditEntry } from '../../db/audit'

/** The audit-log entry of a new key: what it may do, never the key. */
export function keyCreated(k: ApiKey): AuditEntry {
  return {
    workspaceId: k.workspaceId,
    action: 'key.created',
    target: { type: 'api_key', id: k.id },
    details: { prefix: `${k.prefix}…`, kind: k.kind, name: k.name, scopes: k.scopes },
  }
}

/** The audit-log entry of a revocation. */
export function keyRevoked(k: ApiKey): AuditEntry {
  return { workspaceId: k.workspaceId, action: 'key.revoked', target: { type: 'api_key', id: k.id }, details: { prefix: `${k.prefix}…`, name: k.name } }
}
