/** Where deals live: every data operation the deals service needs, on SQLite or on PostgreSQL. */
import type { ServiceDeps } from '../../deps'
import { invalid } from '../../errors'
import type { PageRequest } from '../../lib/pagination'
import { serializeDeal, type Deal } from './service'
import { pgDealsStore } from './store.pg'
import { sqliteDealsStore } from './store.sqlite'

/** A new deal's row without what the store assigns (id, times, closed_at). */
export type NewDeal = Pick<Deal, 'title' | 'valueMinor' | 'currency' | 'stage' | 'metadata' | 'contactId' | 'leadId'>

/** What a deal edit sets besides its contact: computed from the current row, with whether it closes the deal. */
export interface DealChange {
  changes: Pick<Deal, 'title' | 'valueMinor' | 'currency' | 'stage' | 'metadata' | 'closedAt' | 'updatedAt'>
  /** It enters won or lost from another stage: `deal.closed` is emitted with it. */
  closes: boolean
}

/** List filters, already checked. */
export interface DealListQuery {
  stage?: Deal['stage']
  contactId?: string
}

/** How many deals a stage holds in one currency, and their summed value in minor units. */
export interface DealTotal {
  stage: Deal['stage']
  currency: string
  count: number
  valueMinor: number
}

export interface DealsStore {
  /** One deal of the workspace; 404 for any other id. */
  get(workspaceId: string, id: string): Promise<Deal>
  /** One page of deals, newest first, each with its insertion-order cursor. */
  list(workspaceId: string, query: DealListQuery, req: PageRequest): Promise<{ rows: { seq: number; row: Deal }[]; total: number; hasMore: boolean }>
  /** Count and summed value of the workspace's deals per stage and currency (index deals_stage_idx). */
  totals(workspaceId: string): Promise<DealTotal[]>
  /** Inserts a deal (its contact checked: 422), emitting `deal.closed` when it starts won or lost. */
  create(workspaceId: string, now: number, deal: NewDeal): Promise<Deal>
  /**
   * Edits a deal in one transaction, the row locked while `change` computes the edit from it; a new
   * contact is checked (422); `deal.closed` is emitted when the change closes the deal.
   */
  update(workspaceId: string, id: string, contactId: string | null | undefined, change: (current: Deal) => DealChange): Promise<Deal>
}

/** The deals store of the node's engine: PostgreSQL when `deps.pg` is set, else SQLite. */
export function dealsStore(deps: ServiceDeps): DealsStore {
  return deps.pg ? pgDealsStore({ ...deps, pg: deps.pg }) : sqliteDealsStore(deps)
}

/** The 422 for a contact that is not in the workspace (the message never says whether it exists elsewhere). */
export function noSuchContact(contactId: string) {
  return invalid('/contact_id', `no contact with id '${contactId}' in this workspace`)
}

/** The data of `deal.closed`. */
export function dealClosedEvent(deal: Deal, previousStage: Deal['stage'] | null) {
  return { deal: serializeDeal(deal), previous_stage: previousStage }
}
