/** Schemas of the campaign endpoints, each paired with its type. */
import { t } from 'elysia'
import { component, moneyInput } from '../../lib/model-fields'
import { pageQuery, pageSchema } from '../../lib/pagination'

/** Most thresholds one campaign may carry. */
export const MAX_THRESHOLDS = 100

const thresholds = t.Array(moneyInput('A spend amount that triggers `campaign.spend_threshold` once when total spend reaches it.'), {
  maxItems: MAX_THRESHOLDS,
  description: `Up to ${MAX_THRESHOLDS} amounts, each greater than 0; duplicates are merged and the list is kept in ascending order.`,
})

export namespace CampaignModel {
  export const campaign = component(
    'Campaign',
    t.Object({
      id: t.String({ format: 'uuid' }),
      object: t.Literal('campaign'),
      name: t.String(),
      currency: t.String({ description: 'ISO 4217 code; every amount of the campaign is in it.' }),
      budget: t.Union([t.Number(), t.Null()], { description: 'Planned budget, informational; null when none was set.' }),
      spend: t.Number({ description: 'Total spend so far.' }),
      spend_thresholds: t.Array(t.Number(), { description: 'Threshold amounts, ascending.' }),
      thresholds_crossed: t.Array(t.Number(), { description: 'The thresholds already reached; each emitted its event exactly once.' }),
      created_at: t.String({ format: 'date-time' }),
      updated_at: t.String({ format: 'date-time' }),
    }),
  )
  export type campaign = typeof campaign.static

  export const createBody = t.Object(
    {
      name: t.String({ minLength: 1, maxLength: 200, description: 'Display name.' }),
      currency: t.String({ description: 'ISO 4217 code of three upper-case letters, like USD.' }),
      budget: t.Optional(t.Union([moneyInput('Planned budget.'), t.Null()])),
      spend_thresholds: t.Optional(thresholds),
    },
    { examples: [{ name: 'Spring search ads', currency: 'USD', budget: 5000, spend_thresholds: [1000, 2500, 4500.5] }] },
  )
  export type createBody = typeof createBody.static

  export const patchBody = t.Object(
    {
      name: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
      budget: t.Optional(t.Union([moneyInput('Planned budget; null removes it.'), t.Null()])),
      spend_thresholds: t.Optional(thresholds),
    },
    {
      description: 'Only the fields sent change. The currency cannot change, as spend already recorded is in it.',
      examples: [{ budget: 8000, spend_thresholds: [1000, 2500, 4500.5, 7500] }],
    },
  )
  export type patchBody = typeof patchBody.static

  export const spendBody = t.Object(
    {
      amount: t.Optional(moneyInput('Spend to add; greater than 0.')),
      total: t.Optional(moneyInput('The new total spend; not less than the current total.')),
    },
    {
      description: 'Exactly one of `amount` (adds to the spend) or `total` (sets it).',
      examples: [{ amount: 120.5 }, { total: 2600 }],
    },
  )
  export type spendBody = typeof spendBody.static

  export const params = t.Object({ id: t.String({ description: 'Campaign id.' }) })

  export const listQuery = t.Object(pageQuery)
  export type listQuery = typeof listQuery.static

  export const list = pageSchema(campaign)
}
