/**
 * Fast pages over append-only tables (contacts, leads). Each row has a dense per-workspace
 * `seq` (and `source_seq` per source) and the totals are kept counters, so page N maps to a
 * seq range: an index seek, whatever the depth. Other filters fall back to COUNT + OFFSET.
 */
import { and, count, desc, eq, lt, lte, type SQL } from 'drizzle-orm'
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core'
import type { PageRequest } from '../lib/pagination'
import type { contacts, leads } from './schema'
import { readCounter, type DbOrTx } from './tx'

type SeqTable = typeof contacts | typeof leads

export interface SeqPageQuery {
  table: SeqTable
  workspaceId: string
  /** Counter holding the unfiltered total. */
  counter: string
  /** Source filter served by the per-source sequence. */
  source?: { column: SQLiteColumn; value: string; counter: string }
  /** Any other filters: served by COUNT + OFFSET. */
  where: SQL[]
  req: PageRequest
}

/** One page of a seq table, newest first: a seq-range seek when only workspace and source filter, else COUNT + OFFSET. */
export function seqPage<Row>(db: DbOrTx, q: SeqPageQuery): { rows: Row[]; total: number; hasMore: boolean } {
  const { table, req } = q
  const scope = eq(table.workspaceId, q.workspaceId)
  const all = [scope, ...q.where, ...(q.source ? [eq(q.source.column, q.source.value)] : [])]

  const total =
    q.where.length > 0
      ? db
          .select({ n: count() })
          .from(table)
          .where(and(...all))
          .get()!.n
      : readCounter(db, q.workspaceId, q.source ? q.source.counter : q.counter)

  if (req.afterSeq !== null) {
    const rows = db
      .select()
      .from(table)
      .where(and(...all, lt(table.seq, req.afterSeq)))
      .orderBy(desc(table.seq))
      .limit(req.limit + 1)
      .all() as Row[]
    return { rows: rows.slice(0, req.limit), total, hasMore: rows.length > req.limit }
  }

  const skip = (req.page - 1) * req.limit
  const hasMore = skip + req.limit < total
  if (skip >= total) return { rows: [], total, hasMore: false }
  if (q.where.length === 0) {
    const seqColumn = q.source ? table.sourceSeq : table.seq
    const upper = total - skip
    const rows = db
      .select()
      .from(table)
      .where(and(...all, lte(seqColumn, upper)))
      .orderBy(desc(seqColumn))
      .limit(req.limit)
      .all()
    return { rows: rows as Row[], total, hasMore }
  }
  const rows = db
    .select()
    .from(table)
    .where(and(...all))
    .orderBy(desc(table.seq))
    .limit(req.limit)
    .offset(skip)
    .all()
  return { rows: rows as Row[], total, hasMore }
}
