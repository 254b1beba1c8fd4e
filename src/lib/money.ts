/**
 * Exact money: amounts travel as JSON numbers (or decimal strings) with at most 2 decimal places
 * and live as integer minor units, so no sum ever picks up a binary-fraction error.
 */
import { invalid } from '../errors'

const DECIMAL = /^(-?)(\d+)(?:\.(\d{1,2}))?$/
const CURRENCY = /^[A-Z]{3}$/

/**
 * A JSON number or decimal string ("19.99") → integer minor units (1999). Refuses more than 2
 * decimal places, exponents, NaN/Infinity, amounts beyond 2^53 − 1 minor units, and negatives
 * unless `allowNegative`.
 */
export function parseMoney(value: unknown, path: string, opts: { allowNegative?: boolean } = {}): number {
  if (typeof value !== 'number' && typeof value !== 'string') throw invalid(path, 'must be a number with at most 2 decimal places')
  if (typeof value === 'number' && !Number.isFinite(value)) throw invalid(path, 'must be a finite number')
  // String(number) is the shortest text that round-trips, so 19.99 reads as "19.99", not 19.989999…
  const match = DECIMAL.exec(typeof value === 'number' ? String(value) : value.trim())
  if (!match) throw invalid(path, 'must be a decimal amount with at most 2 decimal places, like 19.99')
  const [, sign, whole, fraction = ''] = match
  const minor = BigInt(whole!) * 100n + BigInt(fraction.padEnd(2, '0'))
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(path, 'is too large')
  if (sign && minor !== 0n && !opts.allowNegative) throw invalid(path, 'must not be negative')
  return sign ? -Number(minor) || 0 : Number(minor)
}

/** Integer minor units → the JSON number clients see (1999 → 19.99). */
export function formatMoney(minor: number): number {
  return minor / 100
}

/** An ISO 4217 alphabetic code: three upper-case letters (`USD`, `EUR`). */
export function parseCurrency(value: unknown, path: string): string {
  if (typeof value !== 'string' || !CURRENCY.test(value)) throw invalid(path, 'must be an ISO 4217 currency code of three upper-case letters, like USD')
  return value
}
