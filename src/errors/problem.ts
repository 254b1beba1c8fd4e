/** Validation messages for people, shared by the API's problem answers and the dashboard's form checks. */

/**
 * A TypeBox error's message for people: TypeBox says 'Expected union value' for a union; name what
 * is accepted instead when the choices are literals or types.
 */
export function describeValueError(error: { message: string; schema?: unknown }): string {
  if (error.message !== 'Expected union value') return error.message
  const choices = (error.schema as { anyOf?: { const?: unknown; type?: string }[] } | undefined)?.anyOf ?? []
  const literals = choices.map((s) => s.const).filter((v) => v !== undefined)
  if (literals.length === choices.length && literals.length > 0) return `Expected one of ${literals.join(', ')}`
  const types = choices.map((s) => s.type).filter(Boolean)
  return types.length > 0 ? `Expected ${types.join(' or ')}` : error.message
}
