/**
 * The bodies askad POSTs to webhook endpoints, one schema per event type, for the OpenAPI
 * document's `webhooks` section (receivers generate their types from it). The `data` shapes are
 * the ones the services emit: leads/service.ts `eventLead`, deals/store.ts `dealClosedEvent`,
 * campaigns/service.ts, contacts/erasure.ts `contactDeletedData` and webhooks/service.ts `sendTestEvent`.
 */
import { t, type TSchema } from 'elysia'
import type { EventType } from '../../db/outbox'
import { component } from '../../lib/model-fields'
import { CampaignModel } from '../campaigns/model'
import { DELETED_EVENT_MAX_LEAD_IDS } from '../contacts/erasure'
import { DealModel } from '../deals/model'
import { LeadModel } from '../leads/model'

/** A lead as events carry it: in full, its metadata dropped when the event would be large, or only its id once the person was erased. */
const eventLead = t.Union([
  t.Intersect([LeadModel.lead, t.Object({ metadata_truncated: t.Optional(t.Literal(true, { description: 'Metadata and context left out: over 16 KB.' })) })]),
  component(
    'ErasedLead',
    t.Object(
      { id: t.String({ format: 'uuid' }), object: t.Literal('lead'), erased: t.Literal(true) },
      { description: "The lead after its contact was erased: stored events keep only the lead's id." },
    ),
  ),
])

/** What one event's delivery carries besides its `data`. */
function envelope<Type extends EventType>(name: string, type: Type, description: string, data: TSchema) {
  return component(
    name,
    t.Object(
      {
        id: t.String({
          description: 'Event id, the same as the `webhook-id` header: dedupe on it, every retry repeats it.',
          examples: ['msg_0192f0c49a5e7c3b8d2a4f6e1b7a9c01'],
        }),
        type: t.Literal(type),
        timestamp: t.String({ format: 'date-time', description: 'When the event happened (not when this attempt was sent).' }),
        data,
      },
      { description },
    ),
  )
}

/** Each event type with its summary and delivery body; the `satisfies` keeps it in step with the outbox's list. */
export const EVENT_PAYLOADS = {
  'lead.created': {
    summary: 'A lead arrived',
    body: envelope(
      'LeadCreatedEvent',
      'lead.created',
      'A lead was pushed, captured or imported (imports emit only when asked).',
      t.Object({ lead: eventLead }),
    ),
  },
  'lead.converted': {
    summary: 'A lead was converted into a deal',
    body: envelope(
      'LeadConvertedEvent',
      'lead.converted',
      'A lead was converted: the lead and the new deal.',
      t.Object({ lead: eventLead, deal: DealModel.deal }),
    ),
  },
  'deal.closed': {
    summary: 'A deal was won or lost',
    body: envelope(
      'DealClosedEvent',
      'deal.closed',
      'A deal entered `won` or `lost`.',
      t.Object({
        deal: DealModel.deal,
        previous_stage: t.Union([t.String(), t.Null()], { description: 'The stage before; null when the deal was created closed.' }),
      }),
    ),
  },
  'campaign.spend_threshold': {
    summary: "A campaign's spend reached a threshold",
    body: envelope(
      'CampaignSpendThresholdEvent',
      'campaign.spend_threshold',
      "Total spend reached one of the campaign's `spend_thresholds`; each threshold fires once.",
      t.Object({
        campaign: CampaignModel.campaign,
        threshold: t.Number({ description: 'The threshold reached.' }),
        spend: t.Number({ description: 'Total spend when it was reached.' }),
      }),
    ),
  },
  'contact.deleted': {
    summary: 'A contact was erased',
    body: envelope(
      'ContactDeletedEvent',
      'contact.deleted',
      'A contact and its leads were erased (GDPR). Ids and counts only: delete your copy of the person.',
      t.Object({
        contact: t.Object({ id: t.String({ format: 'uuid' }), object: t.Literal('contact'), deleted: t.Literal(true) }),
        deleted_at: t.String({ format: 'date-time' }),
        lead_count: t.Integer({ description: 'Leads deleted with the contact.' }),
        lead_ids: t.Array(t.String({ format: 'uuid' }), { description: `The first ${DELETED_EVENT_MAX_LEAD_IDS} of them.` }),
        lead_ids_truncated: t.Boolean({ description: `True when there were more than ${DELETED_EVENT_MAX_LEAD_IDS}.` }),
      }),
    ),
  },
  'webhook.test': {
    summary: 'A test event',
    body: envelope(
      'WebhookTestEvent',
      'webhook.test',
      'Sent by `POST /api/v1/webhooks/{id}/test` to that endpoint only; no subscription needed.',
      t.Object({ endpoint_id: t.String({ format: 'uuid' }), message: t.String() }),
    ),
  },
} satisfies Record<EventType, { summary: string; body: TSchema }>
