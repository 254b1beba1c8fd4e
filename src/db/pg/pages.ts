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
import { COUNTERS } from '../tx'
import { pageUpperSeq, pageUpperSeqFromBottom, walksFromTop } from '../seq-page'
import type { PgTx } from './unit-of-work'

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
  const skip = (req.page - 1) * req.limit
  const counter = q.source ? q.source.counter : q.counter
  const kept = await keptCounts(db, q.workspaceId, counter, req.afterSeq === null && q.where.length === 0 ? skip : null)
  const total =
    q.where.length > 0
      ? (
          await db
            .select({ n: count() })
            .from(table)
            .where(and(...all))
        )[0]!.n
      : kept.high - kept.erased

  if (req.afterSeq !== null) {
    const rows = (await db
      .select()
      .from(table)
      .where(and(...all, lt(table.seq, req.afterSeq)))
      .orderBy(desc(table.seq))
      .limit(req.limit + 1)) as Row[]
    return { rows: rows.slice(0, req.limit), total, hasMore: rows.length > req.limit }
  }

  const hasMore = skip + req.limit < total
  if (skip >= total) return { rows: [], total, hasMore: false }
  if (q.where.length === 0) {
    const seqColumn = q.source ? table.sourceSeq : table.seq
    const rows = await db
      .select()
      .from(table)
      .where(and(...all, lte(seqColumn, upperSeq(kept, skip))))
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

/** A seq counter's kept counts and the erased seqs a page needs (see keptCounts). */
interface KeptCounts {
  high: number
  erased: number
  /** Erased seqs above the page, newest first, when it walks from the top; else those at or below its start, oldest first. */
  walk: number[]
}

/** The page's upper seq from the kept counts (../seq-page.ts explains both walks). */
function upperSeq(kept: KeptCounts, skip: number): number {
  const total = kept.high - kept.erased
  if (kept.erased === 0) return kept.high - skip
  return walksFromTop(total, skip) ? pageUpperSeq(kept.high, skip, kept.walk) : pageUpperSeqFromBottom(total, skip, kept.walk)
}

/**
 * A seq counter's high-water mark and erased count and, for a page `skip` rows deep, the erased seqs
 * its walk reads (from the top or the bottom, as walksFromTop decides, in the same terms): one
 * statement, so all come from one snapshot.
 */
async function keptCounts(db: PgDbOrTx, workspaceId: string, counter: string, skip: number | null): Promise<KeptCounts> {
  const erasedName = COUNTERS.erased(counter)
  const [row] = (await db.$client`
    SELECT k.high, k.erased,
      CASE WHEN ${skip}::bigint IS NULL OR k.erased = 0 THEN '{}'::bigint[]
        WHEN ${skip}::bigint * 2 <= k.high - k.erased THEN ARRAY(
          SELECT seq FROM erased_seqs WHERE workspace_id = ${workspaceId} AND counter = ${counter} AND seq > k.high - ${skip}::bigint - k.erased ORDER BY seq DESC)
        ELSE ARRAY(
          SELECT seq FROM erased_seqs WHERE workspace_id = ${workspaceId} AND counter = ${counter} AND seq <= k.high - ${skip}::bigint ORDER BY seq) END AS walk
    FROM (SELECT coalesce(max(value) FILTER (WHERE name = ${counter}), 0) AS high, coalesce(max(value) FILTER (WHERE name = ${erasedName}), 0) AS erased
          FROM counters WHERE workspace_id = ${workspaceId} AND name IN (${counter}, ${erasedName})) k`) as {
    high: string
    erased: string
    walk: (string | number)[]
  }[]
  return { high: Number(row!.high), erased: Number(row!.erased), walk: row!.walk.map(Number) }
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
