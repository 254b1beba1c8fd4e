/** Contact routes. */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { linkHeader, parsePageQuery } from '../../lib/pagination'
import { problems, AUTH_ERRORS } from '../../lib/problem-model'
import type { AuthPlugin } from '../../plugins/auth'
import { ContactModel } from './model'
import { listContacts } from './service'

export const contactsModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ prefix: '/contacts', tags: ['Contacts'] }).use(auth).get(
    '',
    ({ query, auth, request, set }) => {
      const page = listContacts(deps.db, auth.workspaceId, { email: query.email, source: query.source, updatedSince: query.updated_since }, parsePageQuery(query))
      const link = linkHeader(request.url, page)
      if (link) set.headers.link = link
      return page
    },
    {
      scope: 'contacts:read',
      query: ContactModel.listQuery,
      response: { 200: ContactModel.list, ...problems(...AUTH_ERRORS, 422) },
      detail: {
        summary: 'List contacts',
        description:
          'Contacts of the workspace, newest first, in the pagination envelope with an RFC 8288 `Link` header (first, prev, next, last). ' +
          'A page past the end is an empty `data` array. Scope `contacts:read`.',
      },
    },
  )
