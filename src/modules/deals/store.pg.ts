/**
 * Deals on PostgreSQL. An edit takes the deal FOR UPDATE before computing from it, so two
 * concurrent edits that move it to won or lost queue, and only the first one closes it (emits
 * `deal.closed`); the second sees the deal already closed.
 */
import { and, count, eq, sql } from 'drizzle-orm'
import type { PgDb } from '../../db/pg/client'
import { rowInWorkspacePg, rowidPagePg, type PgDbOrTx } from '../../db/pg/pages'
import { contacts, deals } from '../../db/pg/schema'
import { writePg, type PgEmit, type PgTx } from '../../db/pg/unit-of-work'
import type { ServiceDeps } from '../../deps'
import { notFound } from '../../errors'
import { newId } from '../../lib/ids'
import { isClosed, type Deal } from './service'
import { dealClosedEvent, noSuchContact, type DealsStore, type NewDeal } from './store'

/**
 * 422 unless the contact is in the workspace. Held FOR KEY SHARE (what the deal's foreign key takes
 * anyway): a contact being erased is waited for and then not found, never a foreign-key failure.
 */
async function checkContact(tx: PgTx, workspaceId: string, contactId: string): Promise<string> {
  const [found] = await tx
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, contactId)))
    .for('key share')
  if (!found) throw noSuchContact(contactId)
  return contactId
}

/** The deal without PostgreSQL's insertion-order column, as the service knows it. */
function withoutRowid({ rowid: _, ...deal }: typeof deals.$inferSelect): Deal {
  return deal
}

/** Inserts a deal inside the caller's transaction, emitting `deal.closed` when it starts closed. */
export async function insertDealPg(tx: PgTx, emit: PgEmit, now: number, workspaceId: string, deal: NewDeal): Promise<Deal> {
  const row: Deal = {
    id: newId(),
    workspaceId,
    ...deal,
    contactId: deal.contactId === null ? null : await checkContact(tx, workspaceId, deal.contactId),
    closedAt: isClosed(deal.stage) ? now : null,
    createdAt: now,
    updatedAt: now,
  }
  await tx.insert(deals).values(row)
  if (isClosed(row.stage)) await emit(workspaceId, 'deal.closed', dealClosedEvent(row, null), now, row.contactId)
  return row
}

/** One deal of the workspace; 404 for any other id. */
export async function getDealPg(db: PgDbOrTx, workspaceId: string, id: string): Promise<Deal> {
  return withoutRowid(await rowInWorkspacePg(db, deals, workspaceId, id, 'deal'))
}

/** The deal of the workspace with this id, taken FOR UPDATE inside `tx`; 404 for any other id. */
async function dealForUpdatePg(tx: PgTx, workspaceId: string, id: string): Promise<Deal> {
  const [row] = await tx
    .select()
    .from(deals)
    .where(and(eq(deals.workspaceId, workspaceId), eq(deals.id, id)))
    .for('update')
  if (!row) throw notFound('deal', id)
  return withoutRowid(row)
}

/** The deals store on PostgreSQL. */
export function pgDealsStore(deps: ServiceDeps & { pg: PgDb }): DealsStore {
  const { pg } = deps
  return {
    get(workspaceId, id) {
      return getDealPg(pg, workspaceId, id)
    },

    async list(workspaceId, query, req) {
      const where = [eq(deals.workspaceId, workspaceId)]
      if (query.stage !== undefined) where.push(eq(deals.stage, query.stage))
      if (query.contactId !== undefined) where.push(eq(deals.contactId, query.contactId))
      const page = await rowidPagePg(pg, deals, and(...where)!, req)
      return { ...page, rows: page.rows.map((r) => ({ seq: r.seq, row: withoutRowid(r.row) })) }
    },

    async totals(workspaceId) {
      const rows = await pg
        .select({ stage: deals.stage, currency: deals.currency, count: count(), valueMinor: sql<string>`coalesce(sum(${deals.valueMinor}), 0)` })
        .from(deals)
        .where(eq(deals.workspaceId, workspaceId))
        .groupBy(deals.stage, deals.currency)
        .orderBy(deals.stage, deals.currency)
      // sum(bigint) is numeric, which the driver hands over as text.
      return rows.map((r) => ({ ...r, valueMinor: Number(r.valueMinor) }))
    },

    create(workspaceId, now, deal) {
      return writePg(deps, (tx, emit) => insertDealPg(tx, emit, now, workspaceId, deal))
    },

    update(workspaceId, id, contactId, change) {
      return writePg(deps, async (tx, emit) => {
        const current = await dealForUpdatePg(tx, workspaceId, id)
        const nextContact = contactId === undefined ? current.contactId : contactId === null ? null : await checkContact(tx, workspaceId, contactId)
        const { changes, closes } = change(current)
        const [updated] = await tx
          .update(deals)
          .set({ ...changes, contactId: nextContact })
          .where(eq(deals.id, id))
          .returning()
        const deal = withoutRowid(updated!)
        if (closes) await emit(workspaceId, 'deal.closed', dealClosedEvent(deal, current.stage), changes.updatedAt, deal.contactId)
        return deal
      })
    },
  }
}
