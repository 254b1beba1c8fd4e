/**
 * Fast pages over append-mostly tables (contacts, leads). Each row has a per-workspace `seq` (and
 * `source_seq` per source) handed out densely by a kept counter, so page N maps to a seq range: an
 * index seek, whatever the depth. Other filters fall back to COUNT + OFFSET.
 *
 * Erasure (GDPR) deletes rows and leaves holes; rows are never renumbered (that would rewrite up to
 * a million rows and break `after` cursors). Instead the counter stays the high-water mark, the
 * erased numbers are listed in `erased_seqs` and counted in `erased:<counter>`: the total is
 * `counter - erased`, and page N's upper seq is `counter - skip` moved down by the erased numbers
 * above it (pageUpperSeq), or found from the bottom by the erased numbers below it
 * (pageUpperSeqFromBottom), whichever side of the page is shorter: a page reads at most half of its
 * counter's erased numbers from the primary key, the first and the last pages only the few beyond them.
 */
import { and, count, desc, eq, lt, lte, type SQL } from 'drizzle-orm'
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core'
import type { PageRequest } from '../lib/pagination'
import { rawStatement } from './prepared'
import type { contacts, leads } from './schema'
import { COUNTERS, readCounter, type DbOrTx } from './tx'

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

  const counter = q.source ? q.source.counter : q.counter
  const high = readCounter(db, q.workspaceId, counter)
  const erased = readCounter(db, q.workspaceId, COUNTERS.erased(counter))
  const total =
    q.where.length > 0
      ? db
          .select({ n: count() })
          .from(table)
          .where(and(...all))
          .get()!.n
      : high - erased

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
    const upper =
      erased === 0
        ? high - skip
        : walksFromTop(total, skip)
          ? pageUpperSeq(high, skip, erasedSeqs(db, 'above', q.workspaceId, counter, high - skip - erased))
          : pageUpperSeqFromBottom(total, skip, erasedSeqs(db, 'atOrBelow', q.workspaceId, counter, high - skip))
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

/**
 * The highest seq on a page (newest first) that has `skip` live rows above it: seqs 1..`high` were
 * handed out, and `erasedDesc` lists the erased ones, newest first, down to at least the answer.
 * Each erased seq above the candidate moves it one down; the first one at or below it ends the walk
 * (every later one is lower still). Erased seqs at or below the answer need no care: the page's
 * `seq <= upper ORDER BY seq DESC` seek skips their missing rows by itself.
 */
export function pageUpperSeq(high: number, skip: number, erasedDesc: Iterable<number>): number {
  let upper = high - skip
  for (const seq of erasedDesc) {
    if (seq <= upper) break
    upper--
  }
  return upper
}

/**
 * The same seq found from the bottom: the page's first row is the one with `total - skip` live seqs
 * at or below it. `erasedAsc` lists the erased seqs, oldest first, up to at least the answer; each
 * at or below the candidate moves it one up, and the first one above it ends the walk.
 */
export function pageUpperSeqFromBottom(total: number, skip: number, erasedAsc: Iterable<number>): number {
  let upper = total - skip
  for (const seq of erasedAsc) {
    if (seq > upper) break
    upper++
  }
  return upper
}

/** Whether a page `skip` rows deep finds its upper seq from the top (the erased seqs above it) rather than the bottom: the shorter side. */
export function walksFromTop(total: number, skip: number): boolean {
  return skip * 2 <= total
}

const ERASED_SEQS_SQL = {
  above: 'SELECT seq FROM erased_seqs WHERE workspace_id = $workspaceId AND counter = $counter AND seq > $bound ORDER BY seq DESC',
  atOrBelow: 'SELECT seq FROM erased_seqs WHERE workspace_id = $workspaceId AND counter = $counter AND seq <= $bound ORDER BY seq',
}

/** Erased seqs of a counter above `bound` (newest first) or at or below it (oldest first), read lazily: the walks stop early. */
function* erasedSeqs(db: DbOrTx, side: keyof typeof ERASED_SEQS_SQL, workspaceId: string, counter: string, bound: number): Generator<number> {
  const rows = rawStatement<{ seq: number }>(db, `erasedSeqs.${side}`, ERASED_SEQS_SQL[side])
  for (const row of rows.iterate({ workspaceId, counter, bound })) yield row.seq
}
