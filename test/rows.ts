/**
 * Reading and poking stored rows from tests, alike on both engines: `find`, `all`, `count` and
 * `update` by table name and equality filters, answering rows as the SQLite schema types them (the
 * PostgreSQL-only `rowid` column left out), so one assertion checks either engine.
 */
import { and, count as countRows, eq, type SQL } from 'drizzle-orm'
import type { Db } from '../src/db/client'
import type { PgDb } from '../src/db/pg/client'
import * as pgSchema from '../src/db/pg/schema'
import * as sqliteSchema from '../src/db/schema'

/** Tables both schemas have, by their export name. */
export type TableName =
  | 'workspaces'
  | 'counters'
  | 'apiKeys'
  | 'contacts'
  | 'leads'
  | 'deals'
  | 'campaigns'
  | 'events'
  | 'webhookEndpoints'
  | 'webhookDeliveries'
  | 'webhookAttempts'
  | 'idempotencyKeys'
  | 'sessions'
  | 'operators'
  | 'memberships'
  | 'invites'
  | 'auditLog'
  | 'sources'

export type Row<K extends TableName> = (typeof sqliteSchema)[K]['$inferSelect']

export interface Rows {
  find<K extends TableName>(table: K, where?: Partial<Row<K>>): Promise<Row<K> | undefined>
  all<K extends TableName>(table: K, where?: Partial<Row<K>>): Promise<Row<K>[]>
  count<K extends TableName>(table: K, where?: Partial<Row<K>>): Promise<number>
  update<K extends TableName>(table: K, where: Partial<Row<K>>, set: Partial<Row<K>>): Promise<void>
}

// The two schemas' tables differ in type only by dialect; the filters below use columns by name alike.
type AnyTable = Record<string, any>

function filter(table: AnyTable, where: Record<string, unknown> = {}): SQL | undefined {
  return and(...Object.entries(where).map(([column, value]) => eq(table[column], value)))
}

function withoutRowid<T>(row: T): T {
  if (row && typeof row === 'object' && 'rowid' in row) {
    const { rowid: _, ...rest } = row as Record<string, unknown>
    return rest as T
  }
  return row
}

/** Rows of a SQLite database. */
export function sqliteRows(db: Db): Rows {
  const t = (name: TableName) => sqliteSchema[name] as AnyTable
  return {
    find: async (name, where) =>
      db
        .select()
        .from(t(name) as any)
        .where(filter(t(name), where))
        .get() as any,
    all: async (name, where) =>
      db
        .select()
        .from(t(name) as any)
        .where(filter(t(name), where))
        .all() as any,
    count: async (name, where) =>
      db
        .select({ n: countRows() })
        .from(t(name) as any)
        .where(filter(t(name), where))
        .get()!.n,
    update: async (name, where, set) =>
      void db
        .update(t(name) as any)
        .set(set)
        .where(filter(t(name), where))
        .run(),
  }
}

/** Rows of a PostgreSQL database. */
export function pgRows(pg: PgDb): Rows {
  const t = (name: TableName) => pgSchema[name] as AnyTable
  return {
    find: async (name, where) =>
      withoutRowid(
        (
          await pg
            .select()
            .from(t(name) as any)
            .where(filter(t(name), where))
            .limit(1)
        )[0],
      ) as any,
    all: async (name, where) =>
      (
        await pg
          .select()
          .from(t(name) as any)
          .where(filter(t(name), where))
      ).map(withoutRowid) as any,
    count: async (name, where) =>
      Number(
        (
          await pg
            .select({ n: countRows() })
            .from(t(name) as any)
            .where(filter(t(name), where))
        )[0]!.n,
      ),
    update: async (name, where, set) =>
      void (await pg
        .update(t(name) as any)
        .set(set)
        .where(filter(t(name), where))),
  }
}
