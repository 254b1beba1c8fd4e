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

/** RFC 3339 date-time, or a bare date (YYYY-MM-DD); a space may stand for the T. */
const TIMESTAMP_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/

/** True when year-month-day names a day of the calendar (Date.parse rolls 2026-02-30 over into March). */
function calendarDay(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

/** Parses an RFC 3339 time or a date (YYYY-MM-DD) given by a client, else 422 at `path`; impossible dates and times are refused. */
export function parseTimestamp(value: string, path: string): number {
  const match = TIMESTAMP_PATTERN.exec(value)
  const [, year, month, day, hour = '0', minute = '0', second = '0'] = match ?? []
  const valid = match !== null && calendarDay(+year!, +month!, +day!) && +hour <= 23 && +minute <= 59 && +second <= 59
  const ms = valid ? Date.parse(value) : NaN
  if (Number.isNaN(ms)) throw invalid(path, `'${value}' is not a valid RFC 3339 date-time (a real calendar date and time), such as 2026-01-31T00:00:00Z`)
  return ms
}
