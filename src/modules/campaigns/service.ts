/**
 * Campaigns: a budget, a running spend and spend thresholds. Each threshold emits
 * `campaign.spend_threshold` exactly once: the spend update, the record of crossed thresholds
 * and the events share one transaction with the campaign locked (store.ts), so racing updates
 * cannot both see a threshold as not yet crossed.
 */
import type { ServiceDeps } from '../../deps'
import { iso } from '../../lib/clock'
import { ApiError, invalid } from '../../errors'
import { newId } from '../../lib/ids'
import { singleLine } from '../../lib/text'
import { formatMoney, parseMoney, parseCurrency } from '../../lib/money'
import { buildPage, type PageRequest } from '../../lib/pagination'
import type { CampaignModel } from './model'
import { campaignsStore, type Campaign, type CampaignChange, type CampaignsStoreDeps } from './store'

export type { Campaign } from './store'

function parseThresholds(values: (number | string)[]): number[] {
  const minor = values.map((v, i) => {
    const amount = parseMoney(v, `/spend_thresholds/${i}`)
    if (amount === 0) throw invalid(`/spend_thresholds/${i}`, 'must be greater than 0')
    return amount
  })
  return [...new Set(minor)].sort((a, b) => a - b)
}

function parseName(value: string): string {
  const name = value.trim()
  if (!name) throw invalid('/name', 'must not be blank')
  return singleLine(name, '/name')
}

function parseBudget(value: number | string | null | undefined): number | null {
  return value == null ? null : parseMoney(value, '/budget')
}

/**
 * `changes`, plus every threshold at or below the resulting spend that has not fired yet marked as
 * crossed, with its event. The stored `thresholds_crossed` keeps every amount that ever fired, so a
 * threshold removed and added again does not fire twice.
 */
function crossThresholds(current: Campaign, changes: Partial<Campaign>): CampaignChange {
  const next = { ...current, ...changes }
  const due = next.spendThresholdsMinor.filter((t) => t <= next.spendMinor && !next.thresholdsCrossedMinor.includes(t))
  if (due.length === 0) return { changes, thresholdEvents: () => [] }
  return {
    changes: { ...changes, thresholdsCrossedMinor: [...next.thresholdsCrossedMinor, ...due].sort((a, b) => a - b) },
    thresholdEvents: (updated) =>
      due.map((threshold) => ({
        threshold,
        data: { campaign: serializeCampaign(updated), threshold: formatMoney(threshold), spend: formatMoney(updated.spendMinor) },
      })),
  }
}

/** The workspace's campaign, else 404 (also for another workspace's id). */
export async function getCampaign(deps: CampaignsStoreDeps, workspaceId: string, id: string): Promise<Campaign> {
  return campaignsStore(deps).get(workspaceId, id)
}

/** Creates a campaign with no spend yet. */
export async function createCampaign(deps: ServiceDeps, workspaceId: string, body: CampaignModel.createBody): Promise<Campaign> {
  const now = deps.clock.now()
  const row: Campaign = {
    id: newId(),
    workspaceId,
    name: parseName(body.name),
    currency: parseCurrency(body.currency, '/currency'),
    budgetMinor: parseBudget(body.budget),
    spendMinor: 0,
    spendThresholdsMinor: parseThresholds(body.spend_thresholds ?? []),
    thresholdsCrossedMinor: [],
    thresholdCrossings: [],
    createdAt: now,
    updatedAt: now,
  }
  return campaignsStore(deps).insert(row)
}

/** Campaigns newest first. */
export async function listCampaigns(deps: CampaignsStoreDeps, workspaceId: string, req: PageRequest) {
  const { rows, total, hasMore } = await campaignsStore(deps).list(workspaceId, req)
  return buildPage(
    req,
    rows.map(({ seq, row }) => ({ seq, item: serializeCampaign(row) })),
    total,
    hasMore,
  )
}

/**
 * Changes name, budget or thresholds. Thresholds already crossed stay crossed; a new threshold
 * at or below the current spend counts as crossed at once and emits its event now.
 */
export async function updateCampaign(deps: ServiceDeps, workspaceId: string, id: string, body: CampaignModel.patchBody): Promise<Campaign> {
  const now = deps.clock.now()
  const changes: Partial<Campaign> = { updatedAt: now }
  if (body.name !== undefined) changes.name = parseName(body.name)
  if (body.budget !== undefined) changes.budgetMinor = parseBudget(body.budget)
  if (body.spend_thresholds !== undefined) changes.spendThresholdsMinor = parseThresholds(body.spend_thresholds)
  return campaignsStore(deps).change(workspaceId, id, now, (current) => crossThresholds(current, changes))
}

/**
 * Adds to (`amount`) or sets (`total`) the spend and emits one event per threshold crossed.
 * A `total` below the current spend is refused (409): spend only grows, so a stale report
 * arriving late cannot roll it back and a threshold never needs to fire twice.
 */
export async function recordSpend(deps: ServiceDeps, workspaceId: string, id: string, body: CampaignModel.spendBody): Promise<Campaign> {
  if ((body.amount === undefined) === (body.total === undefined)) {
    throw invalid(body.amount === undefined ? '/amount' : '/total', 'send exactly one of amount (adds to the spend) or total (sets it)')
  }
  const amount = body.amount === undefined ? null : parseMoney(body.amount, '/amount')
  if (amount === 0) throw invalid('/amount', 'must be greater than 0')
  const total = body.total === undefined ? null : parseMoney(body.total, '/total')
  const now = deps.clock.now()
  // Computed from the campaign as locked in the transaction: concurrent reports add up.
  return campaignsStore(deps).change(workspaceId, id, now, (current) => {
    const spend = amount === null ? total! : current.spendMinor + amount
    if (spend < current.spendMinor) {
      throw new ApiError(
        'conflict',
        `total ${formatMoney(spend)} is below the current spend ${formatMoney(current.spendMinor)}; spend only grows (send a total at least the current spend).`,
      )
    }
    if (spend > Number.MAX_SAFE_INTEGER) throw invalid('/amount', 'would make the total spend too large')
    return crossThresholds(current, { spendMinor: spend, updatedAt: now })
  })
}

/** The public shape of a campaign: money as decimals, only current thresholds listed as crossed. */
export function serializeCampaign(c: Campaign): CampaignModel.campaign {
  return {
    id: c.id,
    object: 'campaign' as const,
    name: c.name,
    currency: c.currency,
    budget: c.budgetMinor === null ? null : formatMoney(c.budgetMinor),
    spend: formatMoney(c.spendMinor),
    spend_thresholds: c.spendThresholdsMinor.map(formatMoney),
    thresholds_crossed: c.spendThresholdsMinor.filter((t) => c.thresholdsCrossedMinor.includes(t)).map(formatMoney),
    created_at: iso(c.createdAt)!,
    updated_at: iso(c.updatedAt)!,
  }
}
