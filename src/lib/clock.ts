import { invalid } from './errors'

/** Injected time source, so tests move time instead of sleeping. */
export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** ISO 8601 / RFC 3339 text of a Unix-milliseconds time, or null. */
export function iso(ms: number | null | undefined): string | null {
  return ms == null ? null : new Date(ms).toISOString()
}

/** Parses an RFC 3339 time or a date (YYYY-MM-DD) given by a client, else 422 at `path`. */
export function parseTimestamp(value: string, path: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}([Tt ][\d:.]+([Zz]|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : NaN
  if (Number.isNaN(ms)) throw invalid(path, 'must be an RFC 3339 date-time such as 2026-01-31T00:00:00Z')
  return ms
}
