/**
 * Deals: an opportunity with a value in exact money, moved through six stages. Entering `won`
 * or `lost` from another stage is a close and emits `deal.closed` in the same transaction.
 */
import type { QueryDeps } from '../../deps'
import { rowInWorkspace } from '../../db/in-workspace'
import { and, eq } from 'drizzle-orm'
import { rowidPage } from '../../db/rowid-page'
import { contacts, deals } from '../../db/schema'
import type { DbOrTx, Tx } from '../../db/tx'
import { write, type Emit } from '../../db/unit-of-work'
import type { DealModel } from './model'
import type { ReadDeps, ServiceDeps } from '../../deps'
import { iso } from '../../lib/clock'
import { invalid } from '../../errors'
import { newId } from '../../lib/ids'
import { checkMetadata, mergeMetadata } from '../../lib/metadata'
import { formatMoney, parseCurrency, parseMoney } from '../../lib/money'
import { buildPage, type PageRequest } from '../../lib/pagination'
import { singleLine } from '../../lib/text'

export type Deal = typeof deals.$inferSelect

/** The pipeline stages, in order: the schema's list. */
export const DEAL_STAGES = deals.stage.enumValues
type DealStage = (typeof DEAL_STAGES)[number]

/** Currency of a deal created without one. */
const DEFAULT_CURRENCY = 'USD'

/** Checks a stage name; the 422 lists the valid ones. */
function parseStage(value: string, path: string): DealStage {
  if (!(DEAL_STAGES as readonly string[]).includes(value)) throw invalid(path, `'${value}' is not a deal stage; use one of ${DEAL_STAGES.join(', ')}`)
  return value as DealStage
}

function parseTitle(value: string, path: string): string {
  const title = value.trim()
  if (!title) throw invalid(path, 'must not be blank')
  return singleLine(title, path)
}

function isClosed(stage: DealStage): boolean {
  return stage === 'won' || stage === 'lost'
}

/**
 * Deal fields as a client sends them (the API's own body model: money not yet parsed, stage not yet
 * checked), with the contact as `contactId`.
 */
export type DealInput = Omit<DealModel.patchBody, 'contact_id'> & { contactId?: string | null }

/** 422 unless the contact is in the workspace (the message never says whether it exists elsewhere). */
function checkContact(tx: DbOrTx, workspaceId: string, contactId: string): string {
  const found = tx
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, contactId)))
    .get()
  if (!found) throw invalid('/contact_id', `no contact with id '${contactId}' in this workspace`)
  return contactId
}

/** What a newly inserted deal needs beyond the client's input. */
export interface NewDeal {
  title: string
  input: DealInput
  contactId: string | null
  leadId: string | null
}

/** Inserts a deal inside the caller's unit of work, emitting `deal.closed` when it starts closed. */
export function insertDeal(tx: Tx, emit: Emit, now: number, workspaceId: string, deal: NewDeal): Deal {
  const { input } = deal
  const stage = input.stage === undefined ? 'new' : parseStage(input.stage, '/stage')
  const row: Deal = {
    id: newId(),
    workspaceId,
    contactId: deal.contactId === null ? null : checkContact(tx, workspaceId, deal.contactId),
    leadId: deal.leadId,
    title: parseTitle(deal.title, '/title'),
    valueMinor: input.value === undefined ? 0 : parseMoney(input.value, '/value'),
    currency: input.currency === undefined ? DEFAULT_CURRENCY : parseCurrency(input.currency, '/currency'),
    stage,
    metadata: checkMetadata(input.metadata ?? {}),
    closedAt: isClosed(stage) ? now : null,
    createdAt: now,
    updatedAt: now,
  }
  tx.insert(deals).values(row).run()
  if (isClosed(stage)) emit(workspaceId, 'deal.closed', { deal: serializeDeal(row), previous_stage: null }, now)
  return row
}

/** Creates a deal; a deal created as won or lost emits `deal.closed`. */
export function createDeal(deps: ServiceDeps, workspaceId: string, input: DealInput & { title: string }): Promise<Deal> {
  const now = deps.clock.now()
  return write(deps, (tx, emit) => insertDeal(tx, emit, now, workspaceId, { title: input.title, input, contactId: input.contactId ?? null, leadId: null }))
}

/** One deal of the workspace; 404 for any other id. */
export function getDeal({ db }: QueryDeps, workspaceId: string, id: string): Deal {
  return rowInWorkspace(db, deals, workspaceId, id, 'deal')
}

/**
 * Edits a deal. Entering won or lost from another stage emits `deal.closed` (so won → won
 * emits nothing, won → negotiation → won closes again); metadata merges, null removes a key.
 */
export function updateDeal(deps: ServiceDeps, workspaceId: string, id: string, patch: DealInput): Promise<Deal> {
  const stage = patch.stage === undefined ? undefined : parseStage(patch.stage, '/stage')
  const valueMinor = patch.value === undefined ? undefined : parseMoney(patch.value, '/value')
  const currency = patch.currency === undefined ? undefined : parseCurrency(patch.currency, '/currency')
  const title = patch.title === undefined ? undefined : parseTitle(patch.title, '/title')
  const now = deps.clock.now()
  return write(deps, (tx, emit) => {
    const current = getDeal({ db: tx }, workspaceId, id)
    const nextStage = stage ?? current.stage
    const closes = isClosed(nextStage) && nextStage !== current.stage
    const deal = tx
      .update(deals)
      .set({
        title: title ?? current.title,
        valueMinor: valueMinor ?? current.valueMinor,
        currency: currency ?? current.currency,
        stage: nextStage,
        contactId: patch.contactId === undefined ? current.contactId : patch.contactId === null ? null : checkContact(tx, workspaceId, patch.contactId),
        metadata: patch.metadata === undefined ? current.metadata : checkMetadata(mergeMetadata(current.metadata, patch.metadata)),
        closedAt: closes ? now : isClosed(nextStage) ? current.closedAt : null,
        updatedAt: now,
      })
      .where(eq(deals.id, id))
      .returning()
      .get()!
    if (closes) emit(workspaceId, 'deal.closed', { deal: serializeDeal(deal), previous_stage: current.stage }, now)
    return deal
  })
}

/** List filters as they come from the query string. */
export interface DealFilters {
  stage?: string
  contactId?: string
}

/** Deals newest first; workspaces hold few deals, so rowidPage's COUNT + OFFSET serves, with a stable cursor. */
export function listDeals({ db }: ReadDeps, workspaceId: string, filters: DealFilters, req: PageRequest) {
  const where = [eq(deals.workspaceId, workspaceId)]
  if (filters.stage !== undefined) where.push(eq(deals.stage, parseStage(filters.stage, 'query.stage')))
  if (filters.contactId !== undefined) where.push(eq(deals.contactId, filters.contactId))
  const { rows, total, hasMore } = rowidPage(db, deals, and(...where)!, req)
  return buildPage(
    req,
    rows.map((r) => ({ seq: r.seq, item: serializeDeal(r.row) })),
    total,
    hasMore,
  )
}

/** The deal as the API and events show it: money as a decimal number, times as RFC 3339. */
export function serializeDeal(d: Deal): DealModel.deal {
  return {
    id: d.id,
    object: 'deal' as const,
    title: d.title,
    value: formatMoney(d.valueMinor),
    currency: d.currency,
    stage: d.stage,
    contact_id: d.contactId,
    lead_id: d.leadId,
    metadata: d.metadata,
    closed_at: iso(d.closedAt),
    created_at: iso(d.createdAt)!,
    updated_at: iso(d.updatedAt)!,
  }
}
