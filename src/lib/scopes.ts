/** Every scope a key can hold (SPEC §2). */
export const SCOPES = [
  'leads:write',
  'leads:capture',
  'leads:read',
  'contacts:read',
  'contacts:write',
  'deals:read',
  'deals:write',
  'campaigns:read',
  'campaigns:write',
  'webhooks:manage',
  'keys:manage',
] as const

export type Scope = (typeof SCOPES)[number]

/** The only scope a publishable (browser) key may carry. */
export const PUBLISHABLE_SCOPES: Scope[] = ['leads:capture']

/** True for the name of a scope askad knows. */
export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value)
}
