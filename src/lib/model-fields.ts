/** TypeBox fields that several module models share, so each is described the same way everywhere. */
import type { TLiteral, TSchema, TUnion } from '@sinclair/typebox'
import { t } from 'elysia'

/** Keyword naming a schema's entry in the OpenAPI document's `components.schemas` (plugins/openapi-document.ts moves it there). */
export const COMPONENT_KEY = 'x-component'

/** Keyword holding the schema the OpenAPI document shows instead of the one checked at run time. */
export const DOCUMENTED_AS_KEY = 'x-documented-as'

/**
 * Names a schema for the OpenAPI document: wherever it appears the document says `$ref` to
 * `components.schemas[name]`, the type name generated clients get. One name, one schema.
 */
export function component<T extends TSchema>(name: string, schema: T): T {
  return Object.assign(schema, { [COMPONENT_KEY]: name })
}

/**
 * A whole number in the query string, documented as the integer it is (`type: integer`, its bounds)
 * while the route checks the text itself, so its 422 names the bound (lib/pagination.ts).
 */
export function queryInteger(options: { minimum: number; maximum: number; default: number; description: string }) {
  const { description, ...bounds } = options
  const documented = { type: 'integer', ...bounds, examples: [options.default] }
  return t.Optional(t.String({ description, [DOCUMENTED_AS_KEY]: documented }))
}

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

/** One of the given strings, each a literal (an enum of the drizzle schema, `table.column.enumValues`). */
export function literalUnion<const V extends readonly [string, ...string[]]>(values: V, options: { description?: string } = {}) {
  // `map` loses the tuple; the cast gives it back so the static type is the union of the values.
  return t.Union(
    values.map((value) => t.Literal(value)),
    options,
  ) as unknown as TUnion<{ -readonly [K in keyof V]: TLiteral<V[K]> }>
}

/** `?bom=true` on a CSV export: start the file with a UTF-8 byte order mark, which Excel needs to read it as UTF-8. */
export const csvBomQuery = t.Optional(
  literalUnion(['true', 'false'], {
    description:
      'true: start the file with a UTF-8 byte order mark, so Excel (which otherwise guesses a legacy code page) shows accents right. Default false: ' +
      'plain UTF-8, as most tools expect.',
  }),
)

/** A CSV download, for the OpenAPI document. */
export function csvFile(description: string) {
  return t.String({ contentMediaType: 'text/csv', description })
}
