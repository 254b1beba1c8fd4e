/** Deals on SQLite: synchronous drizzle inside the unit of work. */
import { and, count, eq, sql } from 'drizzle-orm'
import { rowInWorkspace } from '../../db/in-workspace'
import { rowidPage } from '../../db/rowid-page'
import { contacts, deals } from '../../db/schema'
import type { DbOrTx, Tx } from '../../db/tx'
import { write, type Emit } from '../../db/unit-of-work'
import type { ServiceDeps } from '../../deps'
import { newId } from '../../lib/ids'
import { isClosed, type Deal } from './service'
import { dealClosedEvent, noSuchContact, type DealsStore, type NewDeal } from './store'

/** 422 unless the contact is in the workspace. */
function checkContact(tx: DbOrTx, workspaceId: string, contactId: string): string {
  const found = tx
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, contactId)))
    .get()
  if (!found) throw noSuchContact(contactId)
  return contactId
}

/** Inserts a deal inside the caller's unit of work, emitting `deal.closed` when it starts closed. */
export function insertDeal(tx: Tx, emit: Emit, now: number, workspaceId: string, deal: NewDeal): Deal {
  const row: Deal = {
    id: newId(),
    workspaceId,
    ...deal,
    contactId: deal.contactId === null ? null : checkContact(tx, workspaceId, deal.contactId),
    closedAt: isClosed(deal.stage) ? now : null,
    createdAt: now,
    updatedAt: now,
  }
  tx.insert(deals).values(row).run()
  if (isClosed(row.stage)) emit(workspaceId, 'deal.closed', dealClosedEvent(row, null), now, row.contactId)
  return row
}

/** The deals store on the SQLite database of `deps`. */
export function sqliteDealsStore(deps: ServiceDeps): DealsStore {
  const { db } = deps
  return {
    async get(workspaceId, id) {
      return rowInWorkspace(db, deals, workspaceId, id, 'deal')
    },

    async list(workspaceId, query, req) {
      const where = [eq(deals.workspaceId, workspaceId)]
      if (query.stage !== undefined) where.push(eq(deals.stage, query.stage))
      if (query.contactId !== undefined) where.push(eq(deals.contactId, query.contactId))
      return rowidPage(db, deals, and(...where)!, req)
    },

    async totals(workspaceId) {
      return db
        .select({ stage: deals.stage, currency: deals.currency, count: count(), valueMinor: sql<number>`coalesce(sum(${deals.valueMinor}), 0)` })
        .from(deals)
        .where(eq(deals.workspaceId, workspaceId))
        .groupBy(deals.stage, deals.currency)
        .orderBy(deals.stage, deals.currency)
        .all()
    },

    create(workspaceId, now, deal) {
      return write(deps, (tx, emit) => insertDeal(tx, emit, now, workspaceId, deal))
    },

    update(workspaceId, id, contactId, change) {
      return write(deps, (tx, emit) => {
        const current = rowInWorkspace(tx, deals, workspaceId, id, 'deal')
        const nextContact = contactId === undefined ? current.contactId : contactId === null ? null : checkContact(tx, workspaceId, contactId)
        const { changes, closes } = change(current)
        const deal = tx
          .update(deals)
          .set({ ...changes, contactId: nextContact })
          .where(eq(deals.id, id))
          .returning()
          .get()!
        if (closes) emit(workspaceId, 'deal.closed', dealClosedEvent(deal, current.stage), changes.updatedAt, deal.contactId)
        return deal
      })
    },
  }
}
