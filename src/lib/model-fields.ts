/** TypeBox fields that several module models share, so each is described the same way everywhere. */
import { t } from 'elysia'

/** An RFC 3339 time, or null. */
export function nullableTime(description: string) {
  return t.Union([t.String({ format: 'date-time' }), t.Null()], { description })
}

/** A money amount as clients send it; lib/money.ts parses it into minor units. */
export function moneyInput(description: string) {
  return t.Union([t.Number(), t.String()], { description: `${description} A decimal with at most 2 places, as a JSON number or a string (19.99 or "19.99").` })
}

/** An optional text field that may also be null (null or empty clears it, or means none). */
export function optionalText(maxLength: number, description: string) {
  return t.Optional(t.Union([t.String({ maxLength }), t.Null()], { description }))
}
