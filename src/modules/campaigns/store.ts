/**
 * Campaigns in storage, on SQLite (store.sqlite.ts) or PostgreSQL (store.pg.ts). A change reads the
 * campaign and writes what it computed from it in one transaction with the row locked (SQLite's
 * write lock, PostgreSQL's `FOR UPDATE`): racing spend reports add up and each threshold fires once.
 */
import type { ServiceDeps } from '../../deps'
import type { campaigns } from '../../db/schema'
import type { PageRequest } from '../../lib/pagination'
import { pgCampaignsStore } from './store.pg'
import { sqliteCampaignsStore } from './store.sqlite'

export type Campaign = typeof campaigns.$inferSelect

/**
 * What a change makes of a campaign: the columns to set, and each threshold it fires with the data of
 * its `campaign.spend_threshold` event (the store records the firing in `thresholdCrossings`).
 */
export interface CampaignChange {
  changes: Partial<Campaign>
  thresholdEvents: (updated: Campaign) => { threshold: number; data: Record<string, unknown> }[]
}

export interface CampaignsStore {
  /** The workspace's campaign, else a 404 (another workspace's too). */
  get(workspaceId: string, id: string): Promise<Campaign>
  /** The workspace's campaigns, newest first, each with its insertion-order cursor. */
  list(workspaceId: string, req: PageRequest): Promise<{ rows: { seq: number; row: Campaign }[]; total: number; hasMore: boolean }>
  /** Inserts a campaign; resolves with it. */
  insert(row: Campaign): Promise<Campaign>
  /**
   * Applies `change(current)` to the campaign, locked from the read to the commit (404 when it is
   * not the workspace's), emits the threshold events it names, at `now`, and records each firing with
   * its event id; resolves with the row as stored.
   */
  change(workspaceId: string, id: string, now: number, change: (current: Campaign) => CampaignChange): Promise<Campaign>
}

/** What the store is built from: the engine (`pg`, else SQLite on `db`) and the unit of work's deps. */
export type CampaignsStoreDeps = Pick<ServiceDeps, 'db' | 'pg'> & Partial<Pick<ServiceDeps, 'wake' | 'storeAnswer' | 'storePgAnswer' | 'engine' | 'actor'>>

/** The store of the engine the node runs on. */
export function campaignsStore(deps: CampaignsStoreDeps): CampaignsStore {
  return deps.pg ? pgCampaignsStore({ ...deps, pg: deps.pg }) : sqliteCampaignsStore(deps)
}
