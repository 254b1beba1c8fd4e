/** Schemas of the contact endpoints, each paired with its type. */
import { t } from 'elysia'
import { optionalText } from '../../lib/model-fields'
import { pageQuery, pageSchema } from '../../lib/pagination'
import { DealModel } from '../deals/model'

export namespace ContactModel {
  export const contact = t.Object({
    id: t.String({ format: 'uuid' }),
    object: t.Literal('contact'),
    email: t.Union([t.String(), t.Null()]),
    phone: t.Union([t.String(), t.Null()]),
    first_name: t.Union([t.String(), t.Null()]),
    last_name: t.Union([t.String(), t.Null()]),
    first_source: t.String({ description: 'Source of the first lead: the channel that acquired the contact.' }),
    last_source: t.String({ description: 'Source of the newest lead.' }),
    lead_count: t.Integer(),
    metadata: t.Record(t.String(), t.Unknown(), {
      description:
        "Its leads' metadata merged (newer wins per key) and PATCHed, at most 64 KB as JSON: when a lead would push it past that, the least recently " +
        'written keys are dropped (the lead itself keeps all of its own).',
    }),
    created_at: t.String({ format: 'date-time' }),
    updated_at: t.String({ format: 'date-time' }),
  })
  export type contact = typeof contact.static

  export const listQuery = t.Object({
    ...pageQuery,
    email: t.Optional(t.String({ description: 'Exact email (matched after trim and lower-case).' })),
    source: t.Optional(t.String({ description: "The contact's first source (the channel that acquired it)." })),
    updated_since: t.Optional(t.String({ description: 'RFC 3339 time: only contacts changed at or after it.', examples: ['2026-01-31T00:00:00Z'] })),
  })
  export type listQuery = typeof listQuery.static

  export const list = pageSchema(contact)

  export const detail = t.Object({
    ...contact.properties,
    recent_leads: t.Array(
      t.Object({
        id: t.String({ format: 'uuid' }),
        object: t.Literal('lead'),
        channel: t.String(),
        source: t.String(),
        status: t.String(),
        deal_id: t.Union([t.String(), t.Null()]),
        created_at: t.String({ format: 'date-time' }),
      }),
      { description: 'The 5 newest leads, summarised; `GET /leads?contact_id=` lists them all in full.' },
    ),
    recent_deals: t.Array(DealModel.deal, { description: 'The 5 newest deals; `GET /deals?contact_id=` lists them all.' }),
  })
  export type detail = typeof detail.static

  export const patchBody = t.Object(
    {
      first_name: optionalText(200, 'First name; null or empty clears it.'),
      last_name: optionalText(200, 'Last name; null or empty clears it.'),
      email: optionalText(254, 'Email (trimmed and lower-cased); 409 when another contact of the workspace has it.'),
      phone: optionalText(64, 'Phone, normalised to + and digits. A contact keeps at least one of email or phone.'),
      metadata: t.Optional(
        t.Record(t.String(), t.Unknown(), {
          description: 'Merged into the metadata; a key set to null is removed. The result may be at most 64 KB as JSON (else 422).',
        }),
      ),
    },
    { additionalProperties: false, examples: [{ first_name: 'Jane', phone: '+1 234 567 890', metadata: { plan: 'pro', old_field: null } }] },
  )
  export type patchBody = typeof patchBody.static

  export const erased = t.Object({
    id: t.String({ format: 'uuid', description: 'The erased contact.' }),
    object: t.Literal('contact'),
    deleted: t.Literal(true),
    deleted_at: t.String({ format: 'date-time' }),
    leads_deleted: t.Integer({ description: 'Its leads, deleted with their metadata and capture context.' }),
    deals_unlinked: t.Integer({ description: 'Deals kept (business data) with `contact_id` and `lead_id` set to null.' }),
    events_redacted: t.Integer({ description: 'Stored webhook events whose payload carried the person, now reduced to ids.' }),
  })
  export type erased = typeof erased.static

  export const idParams = t.Object({ id: t.String({ description: 'Contact id.' }) })
}
