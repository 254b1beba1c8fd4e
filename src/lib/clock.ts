import { invalid } from '../errors'

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
const TIMESTAMP_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/

/** Unix ms of a UTC calendar time, or NaN when it names no real day or time (Date.UTC would roll 2026-02-30 over into March). */
function utcTime(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  if (hour > 23 || minute > 59 || second > 59) return NaN
  const date = new Date(0)
  // setUTCFullYear, unlike Date.UTC, takes years 0–99 as they are.
  date.setUTCFullYear(year, month - 1, day)
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return NaN
  date.setUTCHours(hour, minute, second)
  return date.getTime()
}

/**
 * Parses an RFC 3339 time or a date (YYYY-MM-DD) given by a client, else 422 at `path`; impossible
 * dates and times are refused. A time without an offset is UTC, like a bare date, never the
 * server's own time zone.
 */
export function parseTimestamp(value: string, path: string): number {
  const match = TIMESTAMP_PATTERN.exec(value)
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone] = match ?? []
  let ms = match ? utcTime(+year!, +month!, +day!, +hour, +minute, +second) : NaN
  if (!Number.isNaN(ms)) {
    ms += Math.floor(Number(`0${fraction || '.0'}`) * 1000)
    if (zone && zone.toUpperCase() !== 'Z') {
      const [, sign, hh, mm] = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!
      const offset = +hh! * 60 + +mm!
      ms = offset > 23 * 60 + 59 ? NaN : ms - (sign === '-' ? -1 : 1) * offset * 60_000
    }
  }
  if (Number.isNaN(ms)) {
    throw invalid(
      path,
      `'${value}' is not a valid RFC 3339 date-time (a real calendar date and time; leap seconds are not taken), such as 2026-01-31T00:00:00Z`,
    )
  }
  return ms
}
