/**
 * Pages over small per-workspace tables (campaigns, API keys): COUNT + OFFSET for page numbers,
 * and an `after` cursor on the rowid, which follows insertion order (newest first).
 */
import { and, count, desc, getTableColumns, lt, sql, type SQL } from 'drizzle-orm'
import type { SQLiteTable } from 'drizzle-orm/sqlite-core'
import type { PageRequest } from '../lib/pagination'
import type { DbOrTx } from './tx'

/** Rows matching `where`, newest first, each with its rowid as the cursor sequence. */
export function rowidPage<T extends SQLiteTable>(db: DbOrTx, table: T, where: SQL, req: PageRequest) {
  const rowid = sql<number>`${table}.rowid`
  const total = db.select({ n: count() }).from(table).where(where).get()!.n
  const base = db.select({ seq: rowid, columns: getTableColumns(table) }).from(table as SQLiteTable)
  const found =
    req.afterSeq === null
      ? base
          .where(where)
          .orderBy(desc(rowid))
          .limit(req.limit + 1)
          .offset((req.page - 1) * req.limit)
          .all()
      : base
          .where(and(where, lt(rowid, req.afterSeq)))
          .orderBy(desc(rowid))
          .limit(req.limit + 1)
          .all()
  const rows = found.slice(0, req.limit).map((r) => ({ seq: r.seq, row: r.columns as T['$inferSelect'] }))
  return { rows, total, hasMore: found.length > req.limit }
}
