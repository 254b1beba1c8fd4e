/**
 * Adapter: the framework internals the OpenAPI assembly (plugins/docs.ts) relies on, in one place.
 * @elysiajs/swagger's route walker is not public API (`@elysiajs/swagger/utils`), and TypeBox marks
 * an optional body with a symbol it does not export. test/unit/openapi-adapter.test.ts runs both against
 * a small app, so an upgrade that moves or changes them fails loudly there.
 */
import { filterPaths, registerSchemaPath } from '@elysiajs/swagger/utils'

type Json = Record<string, any>

/** A route as the walker takes it: method, path and Elysia's compiled hooks (its schemas). */
export interface WalkableRoute {
  method: string
  path: string
  hooks?: Json
}

/**
 * The OpenAPI `paths` object @elysiajs/swagger derives from the routes (`{param}` paths, lower-case
 * methods), as plain data: the JSON round trip leaves the live TypeBox schemas untouched by callers.
 */
export function swaggerPaths(routes: WalkableRoute[], models: Json): Json {
  const raw: Json = {}
  for (const route of routes) registerSchemaPath({ schema: raw, path: route.path, method: route.method, hook: route.hooks as never, models })
  return JSON.parse(JSON.stringify(filterPaths(raw, { excludeStaticFile: false, exclude: [] })))
}

/** TypeBox's marker of an optional schema (`t.Optional(…)`), which it keeps under a symbol of its registry. */
const TYPEBOX_OPTIONAL = Symbol.for('TypeBox.Optional')

/** True when a route's body schema is wrapped in `t.Optional`, i.e. the body may be absent. */
export function isOptionalSchema(schema: unknown): boolean {
  return (schema as Record<symbol, unknown> | undefined)?.[TYPEBOX_OPTIONAL] === 'Optional'
}
