/**
 * Prepared drizzle queries, cached per connection. Hot paths (auth, ingest, the outbox) run
 * several statements per request; building their SQL and compiling it in SQLite each time
 * cost more than running them. A transaction shares its database's session, so a query
 * prepared once serves both.
 */
import { Database, type SQLQueryBindings, type Statement } from 'bun:sqlite'
import { getTableColumns, getTableName, type Table } from 'drizzle-orm'
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

/**
 * A table's rows as bun:sqlite statements read and bind them, for the ingest hot path: drizzle's
 * placeholder filling and per-row mapping were ~8 % of a lead's CPU. Column list, aliases and the
 * JSON columns come from the drizzle table, so the SQL cannot drift from the schema.
 */
export interface RawTable<Row> {
  /** `column AS key, …`: a SELECT list whose rows have the drizzle row's keys. */
  columns: string
  /** `INSERT INTO table (columns) VALUES ($key, …)`: binds a row encoded with `encode`. */
  insert: string
  /** A selected row as drizzle would return it (JSON columns parsed). */
  decode(raw: Record<string, unknown>): Row
  /** A row as bindings for `insert` (JSON columns as text). */
  encode(row: Row): Record<string, Exclude<SQLQueryBindings, Record<string, unknown>>>
}

export function rawTable<T extends Table>(table: T): RawTable<T['$inferSelect']> {
  const columns = Object.entries(getTableColumns(table))
  const json: string[] = []
  for (const [key, column] of columns) {
    if (column.columnType === 'SQLiteTextJson') json.push(key)
    else if (column.columnType !== 'SQLiteText' && column.columnType !== 'SQLiteInteger')
      throw new Error(`rawTable: column ${column.name} of ${getTableName(table)} is ${column.columnType}, which rawTable does not map`)
  }
  return {
    columns: columns.map(([key, column]) => (key === column.name ? column.name : `${column.name} AS ${key}`)).join(', '),
    insert: `INSERT INTO ${getTableName(table)} (${columns.map(([, c]) => c.name).join(', ')}) VALUES (${columns.map(([key]) => `$${key}`).join(', ')})`,
    decode(raw) {
      for (const key of json) if (typeof raw[key] === 'string') raw[key] = JSON.parse(raw[key] as string)
      return raw as T['$inferSelect']
    },
    encode(row) {
      const bound: Record<string, Exclude<SQLQueryBindings, Record<string, unknown>>> = {}
      for (const [key] of columns) {
        const value = (row as Record<string, unknown>)[key]
        bound[key] = (json.includes(key) && value != null ? JSON.stringify(value) : (value ?? null)) as Exclude<SQLQueryBindings, Record<string, unknown>>
      }
      return bound
    },
  }
}

/** A bun:sqlite statement on the connection of `db` (a database or its transaction), compiled once per connection. */
export function rawStatement<Row = unknown>(db: DbOrTx, name: string, text: string): Statement<Row, SQLQueryBindings[]> {
  return prepared(db, name, () => {
    const client = (sessionOf(db) as { client?: unknown }).client
    if (!(client instanceof Database))
      throw new Error('drizzle-orm no longer exposes the bun:sqlite client of its session; adapt rawStatement in src/db/prepared.ts')
    return client.prepare<Row, SQLQueryBindings[]>(text)
  })
}
