/** Schemas of the lead endpoints, each paired with its type. */
import { t } from 'elysia'
import { leads } from '../../db/schema'
import { component, optionalText as text } from '../../lib/model-fields'
import { csvBomQuery } from '../../lib/model-fields'
import { pageQuery, pageSchema } from '../../lib/pagination'
import { DealModel } from '../deals/model'

export namespace LeadModel {
  export const inboundBody = component(
    'InboundLead',
    t.Object(
      {
        email: text(254, 'Email address; at least one of email or phone is required.'),
        first_name: text(200, 'First name.'),
        last_name: text(200, 'Last name.'),
        phone: text(64, 'Phone number in any format; normalised to + and digits for matching.'),
        source: t.Optional(t.String({ minLength: 1, maxLength: 100, description: "Where the lead came from, e.g. 'hubspot' (default 'api')." })),
        metadata: t.Optional(
          t.Record(t.String(), t.Unknown(), {
            description:
              'Any JSON object of at most 100 keys and 32 KB as JSON, unknown top-level fields included (else 422); merged into the contact ' +
              '(newer wins per key; the contact keeps at most 64 KB, dropping its least recently written keys).',
          }),
        ),
      },
      {
        additionalProperties: true,
        description: 'A lead from a CRM, form builder, Zapier or cron job. Unknown top-level fields are kept in metadata.',
        examples: [
          { email: 'jane@example.com', first_name: 'Jane', last_name: 'Smith', phone: '+1234567890', source: 'hubspot', metadata: { deal_value: 5000 } },
        ],
      },
    ),
  )
  export type inboundBody = typeof inboundBody.static

  export const created = component(
    'LeadCreated',
    t.Object(
      {
        id: t.String({ format: 'uuid', description: 'The new lead.' }),
        status: t.Literal('created'),
        contact_id: t.String({ format: 'uuid', description: 'The contact the lead was merged into or created.' }),
      },
      { examples: [{ id: '550e8400-e29b-41d4-a716-446655440000', status: 'created', contact_id: '0192f0c4-9a5e-7c3b-8d2a-4f6e1b7a9c01' }] },
    ),
  )
  export type created = typeof created.static

  export const lead = component(
    'Lead',
    t.Object({
      id: t.String({ format: 'uuid' }),
      object: t.Literal('lead'),
      contact_id: t.String({ format: 'uuid' }),
      channel: t.String({
        enum: [...leads.channel.enumValues],
        description: 'How it arrived: pushed by a server (`inbound`), a browser (`capture`) or a CSV import (`import`).',
      }),
      source: t.String(),
      email: t.Union([t.String(), t.Null()]),
      phone: t.Union([t.String(), t.Null()]),
      first_name: t.Union([t.String(), t.Null()]),
      last_name: t.Union([t.String(), t.Null()]),
      metadata: t.Record(t.String(), t.Unknown(), { description: 'Every other field of the submission, verbatim.' }),
      context: t.Union([t.Record(t.String(), t.Unknown()), t.Null()], {
        description: 'Browser capture context (IP, user agent, referrer, page URL, UTM); null for inbound.',
      }),
      status: t.String({ enum: [...leads.status.enumValues] }),
      deal_id: t.Union([t.String(), t.Null()], { description: 'The deal it was converted into.' }),
      converted_at: t.Union([t.String({ format: 'date-time' }), t.Null()]),
      created_at: t.String({ format: 'date-time' }),
    }),
  )
  export type lead = typeof lead.static

  export const listQuery = t.Object({
    ...pageQuery,
    source: t.Optional(t.String({ description: 'Only leads from this source.' })),
    status: t.Optional(t.String({ description: 'Only leads in this status: new or converted.', examples: ['new'] })),
    contact_id: t.Optional(t.String({ description: "Only this contact's leads." })),
    created_since: t.Optional(t.String({ description: 'RFC 3339 time: only leads received at or after it.', examples: ['2026-01-31T00:00:00Z'] })),
  })
  export type listQuery = typeof listQuery.static

  export const list = pageSchema(lead)

  const { page: _page, limit: _limit, after: _after, ...filters } = listQuery.properties
  export const exportQuery = t.Object({ ...filters, bom: csvBomQuery })
  export type exportQuery = typeof exportQuery.static

  export const idParams = t.Object({ id: t.String({ description: 'Lead id.' }) })

  const deal = DealModel.createBody.properties
  export const convertBody = t.Optional(
    t.Object(
      {
        title: t.Optional(t.String({ minLength: 1, maxLength: 200, description: "The deal's title (default: the lead's name, else email or phone)." })),
        value: deal.value,
        currency: deal.currency,
        stage: deal.stage,
      },
      {
        additionalProperties: false,
        description: 'Optional: the deal to create. Send no body for a deal with the defaults.',
        examples: [{ title: 'Jane Smith — annual plan', value: 1200, currency: 'EUR', stage: 'qualified' }],
      },
    ),
  )
  export type convertBody = typeof convertBody.static

  export const converted = component('LeadConverted', t.Object({ lead, deal: DealModel.deal }))
  export type converted = typeof converted.static
}
