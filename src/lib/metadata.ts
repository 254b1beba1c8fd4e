/** Metadata objects: PATCH-style merging and the size bounds of SPEC §10. */
import { invalid } from '../errors'

/** What one write may carry as metadata (a lead, a deal, its JSON serialization). */
export const METADATA_MAX_BYTES = 32 * 1024
/** Keys one write's metadata may have. */
export const METADATA_MAX_KEYS = 100
/** What a contact keeps after merging its leads' metadata; a PATCH beyond it is refused. */
export const CONTACT_METADATA_MAX_BYTES = 64 * 1024

type Metadata = Record<string, unknown>

/** Metadata patches, as PATCH endpoints take them: keys merge in, a null value removes its key. */
export function mergeMetadata(current: Metadata, patch: Metadata): Metadata {
  // Through a Map and Object.fromEntries: a key named `__proto__` becomes a plain own field
  // instead of replacing the prototype, as an assignment would.
  const merged = new Map(Object.entries(current))
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key)
    else merged.set(key, value)
  }
  return Object.fromEntries(merged)
}

/** Size of metadata as stored: UTF-8 bytes of its JSON. */
export function metadataBytes(metadata: Metadata): number {
  return Buffer.byteLength(JSON.stringify(metadata))
}

/** 422 at `path` when metadata has more keys or bytes than one write may carry. */
export function checkMetadata(metadata: Metadata, path = '/metadata'): Metadata {
  const keys = Object.keys(metadata).length
  if (keys > METADATA_MAX_KEYS) throw invalid(path, `has ${keys} keys; the limit is ${METADATA_MAX_KEYS}`)
  const bytes = metadataBytes(metadata)
  if (bytes > METADATA_MAX_BYTES) throw invalid(path, `is ${bytes} bytes as JSON; the limit is ${METADATA_MAX_BYTES} bytes (32 KB)`)
  return metadata
}

/** 422 at `path` when a contact's metadata after a PATCH would exceed its bound. */
export function checkContactMetadata(metadata: Metadata, path = '/metadata'): Metadata {
  const bytes = metadataBytes(metadata)
  if (bytes > CONTACT_METADATA_MAX_BYTES) {
    throw invalid(
      path,
      `would make the contact's metadata ${bytes} bytes as JSON; the limit is ${CONTACT_METADATA_MAX_BYTES} bytes (64 KB): remove keys with null`,
    )
  }
  return metadata
}

/**
 * A lead's metadata merged into its contact's, newer winning per key. Keys are kept in the order
 * they were last written, and while the result exceeds CONTACT_METADATA_MAX_BYTES the least
 * recently written are dropped: a lead is never refused for its contact's history. (JavaScript
 * orders integer-like keys first, so those go first.)
 */
export function mergeLeadMetadata(current: Metadata, incoming: Metadata): { metadata: Metadata; dropped: string[] } {
  const entries = [...Object.entries(current).filter(([key]) => !Object.hasOwn(incoming, key)), ...Object.entries(incoming)]
  let bytes = metadataBytes(Object.fromEntries(entries))
  let first = 0
  // An entry costs its JSON key and value plus ':' and ','; the newest (the lead's own, ≤ 32 KB) always fits.
  while (bytes > CONTACT_METADATA_MAX_BYTES && first < entries.length - 1) {
    const [key, value] = entries[first++]!
    bytes -= Buffer.byteLength(JSON.stringify(key)) + Buffer.byteLength(JSON.stringify(value) ?? '') + 2
  }
  return { metadata: Object.fromEntries(entries.slice(first)), dropped: entries.slice(0, first).map(([key]) => key) }
}
