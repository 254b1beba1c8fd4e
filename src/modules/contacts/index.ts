/** Contact routes: list, read with recent leads and deals, edit, erase. */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { parsePageQuery, sendPage } from '../../lib/pagination'
import { problems, AUTH_ERRORS, BODY_ERRORS } from '../../errors/openapi'
import { csvFileName, csvResponse } from '../../lib/csv'
import { csvParser, MAX_CSV_BODY_BYTES } from '../../plugins/body'
import { answerWrite } from '../../plugins/idempotency'
import { CSV_PARSER } from '../../plugins/route-table'
import { EXPORT_ONLY_COLUMNS, IMPORT_CHUNK_ROWS, IMPORT_IDLE_TIMEOUT_S, importContacts, MAX_IMPORT_ROWS, MAX_REPORTED_ERRORS } from './import'
import { csvFile } from '../../lib/model-fields'
import type { AuthPlugin } from '../../plugins/auth'
import { actingFor } from '../../plugins/request-context'
import { ContactModel } from './model'
import { SEARCH_COUNT_LIMIT } from './search'
import {
  eraseContact,
  exportContactsCsv,
  getContactDetail,
  listContacts,
  serializeContact,
  serializeErasure,
  updateContact,
  type ContactFilters,
} from './service'

/** The list filters of a contacts query string (the JSON list and the CSV export). */
export function contactFilters(query: Omit<ContactModel.listQuery, 'page' | 'limit' | 'after'>): ContactFilters {
  return { email: query.email, source: query.source, updatedSince: query.updated_since, q: query.q }
}

/** Shared text of the CSV exports' descriptions. */
export const CSV_EXPORT_TEXT =
  'Streamed as RFC 4180 CSV (UTF-8, CRLF line ends, a header row, fields quoted when they hold a comma, quote or line break, quotes doubled), ' +
  "read along the list's cursor 500 rows at a time, so any size streams in constant memory; it is not a snapshot: rows changed while it " +
  "streams may show either version. Formula-injection safe (OWASP): a cell starting with `=`, `+`, `-`, `@`, tab or CR is written as `'` " +
  "plus the text, in quotes, so a spreadsheet shows text instead of running a formula (a phone `+1555…` reads `'+1555…`; the import takes " +
  'the quote off again). `metadata` (and `context`) are JSON text; empty cells are null. Bad filters are a 422 before anything is sent. ' +
  'Recorded in the audit log with its filters.'

/** GET /contacts.csv: beside the /contacts routes, outside their prefix (Elysia would put a slash before `.csv`). */
export const contactsExportModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ tags: ['Contacts'] }).use(auth).get(
    '/contacts.csv',
    async ({ query, auth, request }) => {
      const stream = await exportContactsCsv(actingFor(deps, request), auth.workspaceId, contactFilters(query), { bom: query.bom === 'true' })
      return csvResponse(stream, csvFileName('contacts', deps.clock.now()))
    },
    {
      scope: 'contacts:read',
      query: ContactModel.exportQuery,
      response: { 200: csvFile('Every matching contact, newest first; saved as contacts-<date>.csv.'), ...problems(...AUTH_ERRORS, 422) },
      detail: {
        operationId: 'exportContacts',
        summary: 'Export contacts as CSV',
        description:
          'Every contact matching the same filters as `GET /contacts` (email, source, updated_since, q; no pages), newest first. Columns: id, email, ' +
          `phone, first_name, last_name, first_source, last_source, lead_count, metadata, created_at, updated_at. ${CSV_EXPORT_TEXT} Scope \`contacts:read\`.`,
      },
    },
  )

/** The /contacts routes. */
export const contactsModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ prefix: '/contacts', tags: ['Contacts'] })
    .use(auth)
    .use(csvParser)
    .post(
      '/import',
      ({ body, query, auth, request, set, server }) => {
        // Bun closes a connection idle for 10 s, and answering 200,000 rows takes longer than that.
        server?.timeout(request, IMPORT_IDLE_TIMEOUT_S)
        const columns = {
          email: query.column_email,
          phone: query.column_phone,
          first_name: query.column_first_name,
          last_name: query.column_last_name,
          source: query.column_source,
        }
        const options = { dryRun: query.dry_run === 'true', emitEvents: query.emit_events === 'true', defaultSource: query.source ?? 'import', columns }
        return answerWrite(
          { request, set },
          actingFor(deps, request),
          (d) => importContacts(d, auth.workspaceId, body, options),
          (report) => ({ status: 200, body: report }),
        )
      },
      {
        scope: 'contacts:write',
        parse: CSV_PARSER,
        query: ContactModel.importQuery,
        body: ContactModel.importBody,
        response: { 200: ContactModel.importReport, ...problems(...BODY_ERRORS) },
        detail: {
          operationId: 'importContacts',
          summary: 'Import contacts from CSV',
          description:
            `The body is the file itself: \`Content-Type: text/csv\` (else 415), UTF-8 (else 400), at most ${MAX_CSV_BODY_BYTES / 1024 / 1024} MiB ` +
            `(413) and ${MAX_IMPORT_ROWS.toLocaleString('en')} rows (413), header row first. Columns named email, phone, first_name, last_name and ` +
            'source (any case) are read as those fields; `column_<field>=<header>` maps another column instead. Every other column is kept in ' +
            "the row's metadata (empty cells left out); a `metadata` column of JSON objects is merged in, and the columns of our own exports " +
            `that cannot be set (${EXPORT_ONLY_COLUMNS.join(', ')}) are skipped, with first_source read as source: an export imports back. ` +
            'Each row is stored as a lead of channel `import` exactly as `POST /leads/inbound` stores one (the same checks; the contact found ' +
            'by normalised email, else phone, and merged, or created), in file order, so rows dedupe against existing contacts and each other. ' +
            "A cell starting with `'` before `= + - @` has that quote taken off (our export writes it). A row that fails (bad email, neither " +
            'email nor phone, a width other than the header’s, metadata over its limits) is skipped and reported with its row, line, field ' +
            `and message (the first ${MAX_REPORTED_ERRORS}; all counted); the others are stored. A file that is not CSV (an unclosed quote), ` +
            'is empty, or has no email or phone column is a 422 and stores nothing. `dry_run=true` checks every row and stores nothing. ' +
            '`lead.created` is not emitted unless `emit_events=true`. Rows are stored in transactions of ' +
            `${IMPORT_CHUNK_ROWS}; the last one records \`contacts.imported\` in the audit log and the Idempotency-Key's report, so a retry ` +
            'with the key replays the report and stores nothing again. If the server stops mid-import, the chunks already committed stay ' +
            '(a retry then merges those rows into the same contacts again, each adding a lead). Scope `contacts:write`.',
        },
      },
    )
    .get(
      '',
      async ({ query, auth, request, set }) => {
        return sendPage(request.url, set, await listContacts(deps, auth.workspaceId, contactFilters(query), parsePageQuery(query)))
      },
      {
        scope: 'contacts:read',
        query: ContactModel.listQuery,
        response: { 200: ContactModel.list, ...problems(...AUTH_ERRORS, 422) },
        detail: {
          operationId: 'listContacts',
          summary: 'List contacts',
          description:
            'Contacts of the workspace, newest first, in the pagination envelope with an RFC 8288 `Link` header (first, prev, next, last). ' +
            "A page past the end is an empty `data` array. Each contact's metadata is at most 64 KB, so a page (at most 200) stays within about 13 MB. " +
            `Search with \`q\` (see the parameter) is served by indexes at any size: \`total\` is exact up to ${SEARCH_COUNT_LIMIT.toLocaleString('en')} ` +
            `matches per field; a query matching more (a one- or two-letter prefix in a big workspace) reports ${SEARCH_COUNT_LIMIT.toLocaleString('en')} ` +
            '(read "at least"), page numbers reach that far, and the `after` cursor walks every match. Scope `contacts:read`.',
        },
      },
    )
    .get('/:id', ({ params, auth }) => getContactDetail(deps, auth.workspaceId, params.id), {
      scope: 'contacts:read',
      params: ContactModel.idParams,
      response: { 200: ContactModel.detail, ...problems(...AUTH_ERRORS, 404) },
      detail: {
        operationId: 'getContact',
        summary: 'Get a contact',
        description: 'One contact with its 5 newest leads (summarised) and deals. Scope `contacts:read`.',
      },
    })
    .patch(
      '/:id',
      async ({ params, body, auth }) => {
        const patch = { firstName: body.first_name, lastName: body.last_name, email: body.email, phone: body.phone, metadata: body.metadata }
        return serializeContact(await updateContact(deps, auth.workspaceId, params.id, patch))
      },
      {
        scope: 'contacts:write',
        params: ContactModel.idParams,
        body: ContactModel.patchBody,
        response: { 200: ContactModel.contact, ...problems(...BODY_ERRORS, 404, 409) },
        detail: {
          operationId: 'updateContact',
          summary: 'Update a contact',
          description:
            'Changes the fields sent (null or empty clears a name; email and phone are normalised as for leads). `metadata` is merged; a key ' +
            'set to null is removed; a result over 64 KB as JSON is a 422 naming the limit. Names, email and phone may not hold control characters and are ' +
            'stored in Unicode NFC. A contact keeps an email or a phone (422), and an email already on another contact is a 409. Scope `contacts:write`.',
        },
      },
    )
    .delete('/:id', async ({ params, auth, request }) => serializeErasure(await eraseContact(actingFor(deps, request), auth.workspaceId, params.id)), {
      scope: 'contacts:write',
      params: ContactModel.idParams,
      response: { 200: ContactModel.erased, ...problems(...AUTH_ERRORS, 404, 409) },
      detail: {
        operationId: 'deleteContact',
        summary: 'Erase a contact',
        description:
          'Erasure (GDPR Art. 17), in one transaction: deletes the contact and all its leads with their metadata and capture context, and emits ' +
          '`contact.deleted` (ids and counts only). Its deals are business data and stay, with `contact_id` and `lead_id` set to null; a deal title ' +
          "that was the person's name, email or phone (a conversion's default) becomes `Erased contact`. Stored webhook events that carried the person " +
          '(`lead.created`, `lead.converted`, `deal.closed`) keep their id, type and time, but their lead is reduced to `{id, object, erased: true}` and ' +
          "their deal unlinked: deliveries still pending send that redacted payload, and receivers' stored answers to them are dropped. " +
          "A conversion's stored Idempotency-Key answer (it carried the lead) is dropped too, so its retry answers 404. Totals, pages, cursors and the " +
          'per-source counts stay exact. Answers **200** with a receipt; erasing again (or an unknown id) is a 404. Scope `contacts:write`.',
      },
    })
