/** The audit-log entries of source changes, alike on both engines: ids, names and prefixes, never a token or secret. */
import type { AuditEntry } from '../../db/audit'
import type { Source } from './store'

function facts(s: Source) {
  return { prefix: `${s.prefix}…`, name: s.name, preset: s.preset }
}

/** The entry of a new source. */
export function sourceCreated(s: Source): AuditEntry {
  return { workspaceId: s.workspaceId, action: 'source.created', target: { type: 'source', id: s.id }, details: { ...facts(s), rate_limit: s.rateLimit } }
}

/** The entry of a new URL for a source (the old prefix is kept, so the log tells which URL stopped). */
export function sourceRotated(s: Source, previousPrefix: string): AuditEntry {
  return {
    workspaceId: s.workspaceId,
    action: 'source.rotated',
    target: { type: 'source', id: s.id },
    details: { ...facts(s), previous_prefix: `${previousPrefix}…` },
  }
}

/** The entry of a revocation. */
export function sourceRevoked(s: Source): AuditEntry {
  return { workspaceId: s.workspaceId, action: 'source.revoked', target: { type: 'source', id: s.id }, details: facts(s) }
}
