/** The audit-log entries of key changes, alike on both engines. */
import type { ApiKey } from '../../db/api-key'
import type { AuditEntry } from '../../db/audit'
import { iso } from '../../lib/clock'

/** The audit-log entry of a new key: what it may do, how often and until when, never the key. */
export function keyCreated(k: ApiKey): AuditEntry {
  return {
    workspaceId: k.workspaceId,
    action: 'key.created',
    target: { type: 'api_key', id: k.id },
    details: { prefix: `${k.prefix}…`, kind: k.kind, name: k.name, scopes: k.scopes, rate_limit: k.rateLimit, expires_at: iso(k.expiresAt) },
  }
}

/** The audit-log entry of a revocation. */
export function keyRevoked(k: ApiKey): AuditEntry {
  return { workspaceId: k.workspaceId, action: 'key.revoked', target: { type: 'api_key', id: k.id }, details: { prefix: `${k.prefix}…`, name: k.name } }
}
