/** Contact routes: list, read with recent leads and deals, edit, erase. */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { parsePageQuery, sendPage } from '../../lib/pagination'
import { problems, AUTH_ERRORS, BODY_ERRORS } from '../../errors/openapi'
import type { AuthPlugin } from '../../plugins/auth'
import { actingFor } from '../../plugins/request-context'
import { ContactModel } from './model'
import { eraseContact, getContactDetail, listContacts, serializeContact, serializeErasure, updateContact } from './service'

/** The /contacts routes. */
export const contactsModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ prefix: '/contacts', tags: ['Contacts'] })
    .use(auth)
    .get(
      '',
      async ({ query, auth, request, set }) => {
        return sendPage(
          request.url,
          set,
          await listContacts(deps, auth.workspaceId, { email: query.email, source: query.source, updatedSince: query.updated_since }, parsePageQuery(query)),
        )
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
            'Scope `contacts:read`.',
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
    .delete('/:id', async ({ params, auth, request }) => serializeErasure(await eraseContact(actingFor(deps, request), auth.workspaceId, params.id)), {
      scope: 'contacts:write',
      params: ContactModel.idParams,
      response: { 200: ContactModel.erased, ...problems(...AUTH_ERRORS, 404, 409) },
      detail: {
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
