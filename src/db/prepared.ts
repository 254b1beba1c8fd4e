/**
 * Prepared drizzle queries, cached per connection. Hot paths (auth, ingest, the outbox) run
 * several statements per request; building their SQL and compiling it in SQLite each time
 * cost more than running them. A transaction shares its database's session, so a query
 * prepared once serves both.
 */
import { getTableColumns, sql, type Placeholder, type Table } from 'drizzle-orm'
import type { DbOrTx } from './client'

const caches = new WeakMap<object, Map<string, unknown>>()

/**
 * drizzle's per-connection session, which a database and its transactions share: the cache key.
 * It is private to drizzle, so this is the one place that reads it, and it fails loudly (as does
 * test/unit/prepared.test.ts) when an upgrade stops exposing it.
 */
export function sessionOf(db: DbOrTx): object {
  const session = (db as unknown as { session?: unknown }).session
  if (typeof session !== 'object' || session === null)
    throw new Error('drizzle-orm no longer exposes the session of a database; adapt sessionOf in src/db/prepared.ts')
  return session
}

/** The query `build` prepares, made once per connection and reused; `name` must be unique per query. */
export function prepared<T>(db: DbOrTx, name: string, build: (db: DbOrTx) => T): T {
  const session = sessionOf(db)
  let cache = caches.get(session)
  if (!cache) caches.set(session, (cache = new Map()))
  let query = cache.get(name) as T | undefined
  if (query === undefined) cache.set(name, (query = build(db)))
  return query
}

/** Insert values naming every column of a table as a placeholder: `.run(row)` then binds a whole row object. */
export function placeholders<T extends Table>(table: T): { [K in keyof T['$inferInsert']]: Placeholder } {
  const columns = getTableColumns(table)
  return Object.fromEntries(Object.keys(columns).map((name) => [name, sql.placeholder(name)])) as { [K in keyof T['$inferInsert']]: Placeholder }
}
