/** Schemas of the lead endpoints, each paired with its type. */
import { t } from 'elysia'

const text = (maxLength: number, description: string) => t.Optional(t.Union([t.String({ maxLength }), t.Null()], { description }))

export namespace LeadModel {
  export const inboundBody = t.Object(
    {
      email: text(254, 'Email address; at least one of email or phone is required.'),
      first_name: text(200, 'First name.'),
      last_name: text(200, 'Last name.'),
      phone: text(64, 'Phone number in any format; normalised to + and digits for matching.'),
      source: t.Optional(t.String({ minLength: 1, maxLength: 100, description: "Where the lead came from, e.g. 'hubspot' (default 'api')." })),
      metadata: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'Any JSON object; merged into the contact (newer wins per key).' })),
    },
    {
      additionalProperties: true,
      description: 'A lead from a CRM, form builder, Zapier or cron job. Unknown top-level fields are kept in metadata.',
      examples: [{ email: 'jane@example.com', first_name: 'Jane', last_name: 'Smith', phone: '+1234567890', source: 'hubspot', metadata: { deal_value: 5000 } }],
    },
  )
  export type inboundBody = typeof inboundBody.static

  export const created = t.Object(
    {
      id: t.String({ format: 'uuid', description: 'The new lead.' }),
      status: t.Literal('created'),
      contact_id: t.String({ format: 'uuid', description: 'The contact the lead was merged into or created.' }),
    },
    { examples: [{ id: '550e8400-e29b-41d4-a716-446655440000', status: 'created', contact_id: '0192f0c4-9a5e-7c3b-8d2a-4f6e1b7a9c01' }] },
  )
  export type created = typeof created.static
}
