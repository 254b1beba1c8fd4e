/**
 * Route options that plugins need before Elysia has routed a request (the gate in onRequest, the
 * body parser in onParse), read from ONE app's route table: each app builds its own lookups, so
 * two apps in a process share nothing.
 */
import type { AnyElysia } from 'elysia'

/** Where a route's API key may come from: the Authorization header, `?key=`, or the `_key` form field. */
export type KeySource = 'header' | 'query' | 'form'

/** Name of the body parser a route names (`parse: FORM_PARSER`) to take urlencoded and multipart forms besides JSON. */
// Annotated so the literal type survives in route options (a plain const widens to string there).
export const FORM_PARSER: 'form' = 'form'

/** Name of the body parser a route names (`parse: CSV_PARSER`) to take a `text/csv` body (up to its own larger limit) instead of JSON. */
export const CSV_PARSER: 'csv' = 'csv'

/**
 * Name of the body parser a route names (`parse: UPLOAD_PARSER`) to take a multipart form with a
 * CSV file (the dashboard's import): up to the CSV limit, files kept as their UTF-8 text.
 */
export const UPLOAD_PARSER: 'upload' = 'upload'

/**
 * Name of the body parser a route names (`parse: RAW_PARSER`) to take any content type as the bytes sent (up to the
 * same 1 MiB): a source's preset reads them itself, and a signature covers exactly these bytes.
 */
export const RAW_PARSER: 'raw' = 'raw'

const KEY_SOURCES = Symbol('askad.keyFrom')

type Hook = { fn?: unknown }

/** A route as Elysia's route table holds it: its options are compiled into `hooks`. */
export interface RouteEntry {
  method: string
  path: string
  hooks?: { parse?: Hook[] | Hook; transform?: Hook[] | Hook; [option: string]: unknown }
}

function hooksOf(hook: Hook[] | Hook | undefined): Hook[] {
  return hook === undefined ? [] : Array.isArray(hook) ? hook : [hook]
}

/**
 * The transform the `keyFrom` macro adds to its route. Elysia compiles macro options away, so the
 * declaration travels on this function, where `keySourcesOf` finds it in the route table; it does
 * nothing at request time (capture's own transform does the late authentication).
 */
export function keyFromTransform(sources: KeySource[]): () => void {
  return Object.assign(function keyFrom() {}, { [KEY_SOURCES]: [...sources] })
}

/** The key sources a route declared with the `keyFrom` macro; undefined when it declared none. */
export function keySourcesOf(route: RouteEntry): KeySource[] | undefined {
  for (const { fn } of hooksOf(route.hooks?.transform)) {
    const sources = (fn as { [KEY_SOURCES]?: KeySource[] } | undefined)?.[KEY_SOURCES]
    if (sources) return sources
  }
  return undefined
}

/** True when the route names the form parser (`parse: FORM_PARSER`). */
export function acceptsForms(route: Pick<RouteEntry, 'hooks'>): boolean {
  return hooksOf(route.hooks?.parse).some((hook) => hook.fn === FORM_PARSER)
}

/** True when the route names the upload parser (`parse: UPLOAD_PARSER`). */
export function acceptsUpload(route: Pick<RouteEntry, 'hooks'>): boolean {
  return hooksOf(route.hooks?.parse).some((hook) => hook.fn === UPLOAD_PARSER)
}

/** True when the route names the raw parser (`parse: RAW_PARSER`). */
export function acceptsRaw(route: Pick<RouteEntry, 'hooks'>): boolean {
  return hooksOf(route.hooks?.parse).some((hook) => hook.fn === RAW_PARSER)
}

/** True when the route names the CSV parser (`parse: CSV_PARSER`). */
export function acceptsCsv(route: Pick<RouteEntry, 'hooks'>): boolean {
  return hooksOf(route.hooks?.parse).some((hook) => hook.fn === CSV_PARSER)
}

/**
 * The whole app's routes, as seen from a plugin mounted on it. They sit behind a protected method,
 * read the same way by @elysiajs/swagger; Elysia points a mounted plugin's method at its app's table.
 */
export function routeTable(plugin: AnyElysia): RouteEntry[] {
  return (plugin as unknown as { getGlobalRoutes(): RouteEntry[] }).getGlobalRoutes()
}

/** A value computed from the plugin's app's route table on first use, and again only when routes were added. */
export function fromRouteTable<T>(plugin: AnyElysia, build: (routes: RouteEntry[]) => T): () => T {
  let built: { count: number; value: T } | undefined
  return () => {
    const routes = routeTable(plugin)
    if (built?.count !== routes.length) built = { count: routes.length, value: build(routes) }
    return built.value
  }
}

/**
 * The route pattern Elysia's router would pick for a method and path, or null; for plugins that
 * must name the route of a request answered before routing. Elysia does not expose its router's
 * pattern for a path, so this re-creates its precedence (static segments before parameters, HEAD
 * served by GET, ALL for any method); test/http/route-table.test.ts compares it with Elysia's own
 * routing, so an upgrade that changes the precedence fails loudly.
 */
export function routeMatcher(routes: Pick<RouteEntry, 'method' | 'path'>[]): (method: string, path: string) => string | null {
  const patterns = routes.map((r) => ({
    method: r.method,
    path: r.path,
    regex: new RegExp(
      `^${r.path
        .split('/')
        .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : RegExp.escape(part)))
        .join('/')}/?$`,
    ),
  }))
  patterns.sort((a, b) => a.path.split(':').length - b.path.split(':').length)
  return (method, path) => {
    const wanted = method === 'HEAD' ? ['HEAD', 'GET', 'ALL'] : [method, 'ALL']
    return patterns.find((p) => wanted.includes(p.method) && p.regex.test(path))?.path ?? null
  }
}
