/** Schemas of the contact endpoints, each paired with its type. */
import { t } from 'elysia'
import { pageQuery, pageSchema } from '../../lib/pagination'

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
    metadata: t.Record(t.String(), t.Unknown()),
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
}
