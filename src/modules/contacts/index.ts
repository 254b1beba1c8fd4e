/** Contact routes: list, read with recent leads and deals, edit. */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { parsePageQuery, sendPage } from '../../lib/pagination'
import { problems, AUTH_ERRORS, BODY_ERRORS } from '../../errors/openapi'
import type { AuthPlugin } from '../../plugins/auth'
import { ContactModel } from './model'
import { SEARCH_COUNT_LIMIT } from './search'
import { getContactDetail, listContacts, serializeContact, updateContact, type ContactFilters } from './service'

/** The list filters of a contacts query string (the JSON list and the CSV export). */
export function contactFilters(query: ContactModel.listQuery): ContactFilters {
  return { email: query.email, source: query.source, updatedSince: query.updated_since, q: query.q }
}

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
