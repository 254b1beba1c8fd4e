/** Contact routes: list, read with recent leads and deals, edit. */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { parsePageQuery, sendPage } from '../../lib/pagination'
import { problems, AUTH_ERRORS, BODY_ERRORS } from '../../errors/openapi'
import { csvResponse } from '../../lib/csv'
import { csvFile } from '../../lib/model-fields'
import { actingFor } from '../../plugins/request-context'
import type { AuthPlugin } from '../../plugins/auth'
import { ContactModel } from './model'
import { SEARCH_COUNT_LIMIT } from './search'
import { exportContactsCsv, getContactDetail, listContacts, serializeContact, updateContact, type ContactFilters } from './service'

/** The list filters of a contacts query string (the JSON list and the CSV export). */
export function contactFilters(query: Omit<ContactModel.listQuery, 'page' | 'limit' | 'after'>): ContactFilters {
  return { email: query.email, source: query.source, updatedSince: query.updated_since, q: query.q }
}

/** The date a download's file name carries. */
export function csvFileName(what: string, now: number): string {
  return `${what}-${new Date(now).toISOString().slice(0, 10)}.csv`
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
      detail: { summary: 'Get a contact', description: 'One contact with its 5 newest leads (summarised) and deals. Scope `contacts:read`.' },
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
          summary: 'Update a contact',
          description:
            'Changes the fields sent (null or empty clears a name; email and phone are normalised as for leads). `metadata` is merged; a key ' +
            'set to null is removed; a result over 64 KB as JSON is a 422 naming the limit. Names, email and phone may not hold control characters and are ' +
            'stored in Unicode NFC. A contact keeps an email or a phone (422), and an email already on another contact is a 409. Scope `contacts:write`.',
        },
      },
    )
