/** Schemas of the deal endpoints, each paired with its type. */
import { t } from 'elysia'
import { component, moneyInput, nullableTime } from '../../lib/model-fields'
import { pageQuery, pageSchema } from '../../lib/pagination'
import { deals } from '../../db/schema'

const DEAL_STAGES = deals.stage.enumValues
const STAGE_LIST = DEAL_STAGES.join(', ')

export namespace DealModel {
  export const deal = component(
    'Deal',
    t.Object({
      id: t.String({ format: 'uuid' }),
      object: t.Literal('deal'),
      title: t.String(),
      value: t.Number({ description: 'Exact amount in the currency, at most 2 decimal places.' }),
      currency: t.String({ description: 'ISO 4217 code.' }),
      stage: t.String({ enum: [...DEAL_STAGES], description: `One of ${STAGE_LIST}.` }),
      contact_id: t.Union([t.String(), t.Null()]),
      lead_id: t.Union([t.String(), t.Null()], { description: 'The lead this deal was converted from, if any.' }),
      metadata: t.Record(t.String(), t.Unknown()),
      closed_at: nullableTime('When the deal last entered won or lost; null while open.'),
      created_at: t.String({ format: 'date-time' }),
      updated_at: t.String({ format: 'date-time' }),
    }),
  )
  export type deal = typeof deal.static

  // `enum` documents the stages; the service checks them, so the 422 can list the valid ones.
  const stage = (description: string) => t.Optional(t.String({ enum: [...DEAL_STAGES], description: `${description} One of ${STAGE_LIST}.` }))

  export const createBody = t.Object(
    {
      title: t.String({ minLength: 1, maxLength: 200 }),
      value: t.Optional(moneyInput('Deal value (default 0).')),
      currency: t.Optional(t.String({ description: 'ISO 4217 code, three upper-case letters (default USD).' })),
      stage: stage("Stage (default 'new'); creating a deal as won or lost emits `deal.closed`."),
      contact_id: t.Optional(t.Union([t.String(), t.Null()], { description: 'A contact of this workspace.' })),
      metadata: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'Any JSON object of at most 100 keys and 32 KB as JSON (else 422).' })),
    },
    {
      additionalProperties: false,
      examples: [
        {
          title: 'Website redesign',
          value: 4999.99,
          currency: 'USD',
          stage: 'proposal',
          contact_id: '0192f0c4-9a5e-7c3b-8d2a-4f6e1b7a9c01',
          metadata: { owner: 'sam' },
        },
      ],
    },
  )
  export type createBody = typeof createBody.static

  export const patchBody = t.Object(
    {
      title: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
      value: t.Optional(moneyInput('New value.')),
      currency: t.Optional(t.String({ description: 'ISO 4217 code, three upper-case letters.' })),
      stage: stage('New stage; entering won or lost from another stage emits `deal.closed`.'),
      contact_id: t.Optional(t.Union([t.String(), t.Null()], { description: 'A contact of this workspace, or null to unlink.' })),
      metadata: t.Optional(
        t.Record(t.String(), t.Unknown(), {
          description: 'Merged into the metadata; a key set to null is removed. The result may be at most 100 keys and 32 KB as JSON.',
        }),
      ),
    },
    { additionalProperties: false, examples: [{ stage: 'won', value: '5250.00', metadata: { lost_reason: null } }] },
  )
  export type patchBody = typeof patchBody.static

  export const listQuery = t.Object({
    ...pageQuery,
    stage: t.Optional(t.String({ enum: [...DEAL_STAGES], description: `Only deals in this stage: ${STAGE_LIST}.`, examples: ['negotiation'] })),
    contact_id: t.Optional(t.String({ description: "Only this contact's deals." })),
  })
  export type listQuery = typeof listQuery.static

  export const list = pageSchema(deal)

  export const idParams = t.Object({ id: t.String({ description: 'Deal id.' }) })
}
