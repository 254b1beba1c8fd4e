/** Metadata patches, as PATCH endpoints take them: keys merge in, a null value removes its key. */
export function mergeMetadata(current: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  // Through a Map and Object.fromEntries: a key named `__proto__` becomes a plain own field
  // instead of replacing the prototype, as an assignment would.
  const merged = new Map(Object.entries(current))
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key)
    else merged.set(key, value)
  }
  return Object.fromEntries(merged)
}
