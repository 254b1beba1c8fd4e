/** Schemas of the contact endpoints, each paired with its type. */
import { t } from 'elysia'
import { component, optionalText } from '../../lib/model-fields'
import { csvBomQuery, literalUnion } from '../../lib/model-fields'
import { pageQuery, pageSchema } from '../../lib/pagination'
import { MAX_SEARCH_LENGTH } from './search'
import { DealModel } from '../deals/model'

export namespace ContactModel {
  export const contact = component(
    'Contact',
    t.Object({
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
    }),
  )
  export type contact = typeof contact.static

  export const listQuery = t.Object({
    ...pageQuery,
    email: t.Optional(t.String({ description: 'Exact email (matched after trim and lower-case).' })),
    source: t.Optional(t.String({ description: "The contact's first source (the channel that acquired it)." })),
    updated_since: t.Optional(t.String({ description: 'RFC 3339 time: only contacts changed at or after it.', examples: ['2026-01-31T00:00:00Z'] })),
    q: t.Optional(
      t.String({
        maxLength: MAX_SEARCH_LENGTH,
        description:
          'Search: a case-insensitive prefix of the email, the full name ("first last", so also the first name) or the last name; a query of ' +
          "phone characters (digits, spaces, + - . ( )) also matches phones whose digits start with its digits. Case folding is the database's " +
          'lower(): ASCII letters on SQLite. Blank means no search.',
        examples: ['jan'],
      }),
    ),
  })
  export type listQuery = typeof listQuery.static

  export const list = pageSchema(contact)

  const { page: _page, limit: _limit, after: _after, ...filters } = listQuery.properties
  export const exportQuery = t.Object({ ...filters, bom: csvBomQuery })
  export type exportQuery = typeof exportQuery.static

  export const detail = component(
    'ContactDetail',
    t.Object({
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
    }),
  )
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

  const column = (field: string) =>
    t.Optional(
      t.String({ minLength: 1, maxLength: 200, description: `Header of the column read as ${field} (default: the column named \`${field}\`, any case).` }),
    )
  const flag = (description: string) => t.Optional(literalUnion(['true', 'false'], { description }))
  export const importQuery = t.Object({
    dry_run: flag('true: check every row and report, store nothing (default false).'),
    emit_events: flag(
      'true: emit `lead.created` for every imported row, as ingest does (default false: an import of 100,000 rows would otherwise send 100,000 webhooks).',
    ),
    source: t.Optional(t.String({ minLength: 1, maxLength: 100, description: "Source of rows without a source cell (default 'import')." })),
    column_email: column('email'),
    column_phone: column('phone'),
    column_first_name: column('first_name'),
    column_last_name: column('last_name'),
    column_source: column('source'),
  })
  export type importQuery = typeof importQuery.static

  export const importBody = t.Union([t.String({ contentMediaType: 'text/csv' }), t.Null()], {
    description: 'The CSV file (UTF-8, RFC 4180; LF line ends and a BOM are fine), header row first.',
    examples: ['email,first_name,last_name,phone,plan\r\njane@example.com,Jane,Smith,+1 234 567 890,pro\r\n'],
  })

  export const importReport = t.Object({
    object: t.Literal('contact_import'),
    dry_run: t.Boolean(),
    rows: t.Integer({ description: 'Data rows read (the header row not counted).' }),
    imported: t.Integer({ description: 'Rows stored as leads (on a dry run: rows that would be).' }),
    failed: t.Integer({ description: 'Rows refused; each is in `errors` (the first 100).' }),
    contacts_created: t.Union([t.Integer(), t.Null()], { description: 'Rows that made a new contact; null on a dry run.' }),
    contacts_updated: t.Union([t.Integer(), t.Null()], {
      description: 'Rows merged into a contact found by email, else phone (an earlier row of the same file included); null on a dry run.',
    }),
    events_emitted: t.Boolean({ description: 'Whether `lead.created` was emitted for the imported rows.' }),
    columns: t.Object(
      {
        email: t.Union([t.String(), t.Null()]),
        phone: t.Union([t.String(), t.Null()]),
        first_name: t.Union([t.String(), t.Null()]),
        last_name: t.Union([t.String(), t.Null()]),
        source: t.Union([t.String(), t.Null()]),
        metadata: t.Array(t.String(), { description: 'Columns kept in each lead’s metadata (a `metadata` column of JSON objects is merged in).' }),
      },
      { description: 'Which column each field was read from (null: none).' },
    ),
    errors: t.Array(
      t.Object({
        row: t.Integer({ description: 'Row number as a spreadsheet shows it (the header row is 1).' }),
        line: t.Integer({ description: 'Line of the file the row starts on.' }),
        field: t.Union([t.String(), t.Null()], { description: 'The field at fault; null for the row as a whole (its width).' }),
        message: t.String(),
      }),
    ),
    errors_truncated: t.Boolean({ description: 'More rows failed than `errors` lists.' }),
  })
  export type importReport = typeof importReport.static
}
