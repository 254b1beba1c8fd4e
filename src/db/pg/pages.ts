/**
 * The PostgreSQL twins of the shared look-ups and pages (../in-workspace.ts, ../seq-page.ts,
 * ../rowid-page.ts): the same queries and the same answers, through drizzle's pg query builder.
 */
import { and, count, desc, eq, lt, lte, type SQL } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import { notFound } from '../../errors'
import type { PageRequest } from '../../lib/pagination'
import type { PgDb } from './client'
import type { contacts, leads } from './schema'
import { readCounterPg, type PgTx } from './unit-of-work'

/** The pool or a running transaction: reads run alike on both. */
export type PgDbOrTx = PgDb | PgTx

/** A table whose rows belong to a workspace and have an id. */
type OwnedTable = PgTable & { id: PgColumn; workspaceId: PgColumn }

/** The row with this id in this workspace, or a 404 naming `what` (another workspace's id too, SPEC §2). */
export async function rowInWorkspacePg<T extends OwnedTable>(
  db: PgDbOrTx,
  table: T,
  workspaceId: string,
  id: string,
  what: string,
): Promise<T['$inferSelect']> {
  const [row] = await db
    .select()
    .from(table as PgTable)
    .where(and(eq(table.workspaceId, workspaceId), eq(table.id, id)))
  if (!row) throw notFound(what, id)
  return row as T['$inferSelect']
}

type SeqTable = typeof contacts | typeof leads

export interface SeqPageQueryPg {
  table: SeqTable
  workspaceId: string
  /** Counter holding the unfiltered total. */
  counter: string
  /** Source filter served by the per-source sequence. */
  source?: { column: PgColumn; value: string; counter: string }
  /** Any other filters: served by COUNT + OFFSET. */
  where: SQL[]
  req: PageRequest
}

/** One page of a seq table, newest first: a seq-range seek when only workspace and source filter, else COUNT + OFFSET. */
export async function seqPagePg<Row>(db: PgDbOrTx, q: SeqPageQueryPg): Promise<{ rows: Row[]; total: number; hasMore: boolean }> {
  const { table, req } = q
  const all = [eq(table.workspaceId, q.workspaceId), ...q.where, ...(q.source ? [eq(q.source.column, q.source.value)] : [])]
  const total =
    q.where.length > 0
      ? (
          await db
            .select({ n: count() })
            .from(table)
            .where(and(...all))
        )[0]!.n
      : await readCounterPg(db, q.workspaceId, q.source ? q.source.counter : q.counter)

  if (req.afterSeq !== null) {
    const rows = (await db
      .select()
      .from(table)
      .where(and(...all, lt(table.seq, req.afterSeq)))
      .orderBy(desc(table.seq))
      .limit(req.limit + 1)) as Row[]
    return { rows: rows.slice(0, req.limit), total, hasMore: rows.length > req.limit }
  }

  const skip = (req.page - 1) * req.limit
  const hasMore = skip + req.limit < total
  if (skip >= total) return { rows: [], total, hasMore: false }
  if (q.where.length === 0) {
    const seqColumn = q.source ? table.sourceSeq : table.seq
    const rows = await db
      .select()
      .from(table)
      .where(and(...all, lte(seqColumn, total - skip)))
      .orderBy(desc(seqColumn))
      .limit(req.limit)
    return { rows: rows as Row[], total, hasMore }
  }
  const rows = await db
    .select()
    .from(table)
    .where(and(...all))
    .orderBy(desc(table.seq))
    .limit(req.limit)
    .offset(skip)
  return { rows: rows as Row[], total, hasMore }
}

/** A table with the explicit insertion-order column (schema.ts `rowid`). */
type RowidTable = PgTable & { rowid: PgColumn }

/** Rows matching `where`, newest first, each with its rowid as the cursor sequence (like ../rowid-page.ts). */
export async function rowidPagePg<T extends RowidTable>(db: PgDbOrTx, table: T, where: SQL, req: PageRequest) {
  const [{ n: total }] = (await db
    .select({ n: count() })
    .from(table as PgTable)
    .where(where)) as [{ n: number }]
  const base = db.select().from(table as PgTable)
  const found = (
    req.afterSeq === null
      ? await base
          .where(where)
          .orderBy(desc(table.rowid))
          .limit(req.limit + 1)
          .offset((req.page - 1) * req.limit)
      : await base
          .where(and(where, lt(table.rowid, req.afterSeq)))
          .orderBy(desc(table.rowid))
          .limit(req.limit + 1)
  ) as (T['$inferSelect'] & { rowid: number })[]
  const rows = found.slice(0, req.limit).map((row) => ({ seq: row.rowid, row }))
  return { rows, total, hasMore: found.length > req.limit }
}
