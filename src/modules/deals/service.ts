/**
 * Deals: an opportunity with a value in exact money, moved through six stages. Entering `won`
 * or `lost` from another stage is a close and emits `deal.closed` in the same transaction.
 */
import { deals } from '../../db/schema'
import type { DealModel } from './model'
import type { ServiceDeps } from '../../deps'
import { iso } from '../../lib/clock'
import { invalid } from '../../errors'
import { checkMetadata, mergeMetadata } from '../../lib/metadata'
import { formatMoney, parseCurrency, parseMoney } from '../../lib/money'
import { buildPage, type PageRequest } from '../../lib/pagination'
import { singleLine } from '../../lib/text'
import { dealsStore, type NewDeal } from './store'

export type Deal = typeof deals.$inferSelect

/** The pipeline stages, in order: the schema's list. */
export const DEAL_STAGES = deals.stage.enumValues
export type DealStage = (typeof DEAL_STAGES)[number]

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

/** Won and lost are the closed stages. */
export function isClosed(stage: DealStage): boolean {
  return stage === 'won' || stage === 'lost'
}

/**
 * Deal fields as a client sends them (the API's own body model: money not yet parsed, stage not yet
 * checked), with the contact as `contactId`.
 */
export type DealInput = Omit<DealModel.patchBody, 'contact_id'> & { contactId?: string | null }

/**
 * A new deal's fields from the client's input, checked (422 at the failing field); the contact is
 * checked by the store, in the transaction that inserts the deal.
 */
export function newDeal(input: DealInput, title: string, contactId: string | null, leadId: string | null): NewDeal {
  return {
    stage: input.stage === undefined ? 'new' : parseStage(input.stage, '/stage'),
    title: parseTitle(title, '/title'),
    valueMinor: input.value === undefined ? 0 : parseMoney(input.value, '/value'),
    currency: input.currency === undefined ? DEFAULT_CURRENCY : parseCurrency(input.currency, '/currency'),
    metadata: checkMetadata(input.metadata ?? {}),
    contactId,
    leadId,
  }
}

/** Creates a deal; a deal created as won or lost emits `deal.closed`. */
export async function createDeal(deps: ServiceDeps, workspaceId: string, input: DealInput & { title: string }): Promise<Deal> {
  const now = deps.clock.now()
  return dealsStore(deps).create(workspaceId, now, newDeal(input, input.title, input.contactId ?? null, null))
}

/** One deal of the workspace; 404 for any other id. */
export function getDeal(deps: ServiceDeps, workspaceId: string, id: string): Promise<Deal> {
  return dealsStore(deps).get(workspaceId, id)
}

/**
 * Edits a deal. Entering won or lost from another stage emits `deal.closed` (so won → won
 * emits nothing, won → negotiation → won closes again); metadata merges, null removes a key.
 */
export async function updateDeal(deps: ServiceDeps, workspaceId: string, id: string, patch: DealInput): Promise<Deal> {
  const stage = patch.stage === undefined ? undefined : parseStage(patch.stage, '/stage')
  const valueMinor = patch.value === undefined ? undefined : parseMoney(patch.value, '/value')
  const currency = patch.currency === undefined ? undefined : parseCurrency(patch.currency, '/currency')
  const title = patch.title === undefined ? undefined : parseTitle(patch.title, '/title')
  const now = deps.clock.now()
  return dealsStore(deps).update(workspaceId, id, patch.contactId, (current) => {
    const nextStage = stage ?? current.stage
    const closes = isClosed(nextStage) && nextStage !== current.stage
    const changes = {
      title: title ?? current.title,
      valueMinor: valueMinor ?? current.valueMinor,
      currency: currency ?? current.currency,
      stage: nextStage,
      metadata: patch.metadata === undefined ? current.metadata : checkMetadata(mergeMetadata(current.metadata, patch.metadata)),
      closedAt: closes ? now : isClosed(nextStage) ? current.closedAt : null,
      updatedAt: now,
    }
    return { changes, closes }
  })
}

/** List filters as they come from the query string. */
export interface DealFilters {
  stage?: string
  contactId?: string
}

/** Deals newest first; workspaces hold few deals, so rowidPage's COUNT + OFFSET serves, with a stable cursor. */
export async function listDeals(deps: ServiceDeps, workspaceId: string, filters: DealFilters, req: PageRequest) {
  const query = { stage: filters.stage === undefined ? undefined : parseStage(filters.stage, 'query.stage'), contactId: filters.contactId }
  const { rows, total, hasMore } = await dealsStore(deps).list(workspaceId, query, req)
  return buildPage(
    req,
    rows.map((r) => ({ seq: r.seq, item: serializeDeal(r.row) })),
    total,
    hasMore,
  )
}

/** Per stage and currency: how many deals and their summed value (a decimal), over all of the workspace's deals. */
export async function dealTotals(deps: ServiceDeps, workspaceId: string): Promise<{ stage: DealStage; currency: string; count: number; value: number }[]> {
  const rows = await dealsStore(deps).totals(workspaceId)
  return rows.map((r) => ({ stage: r.stage, currency: r.currency, count: r.count, value: formatMoney(r.valueMinor) }))
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
