/** The audit-log route: who did what in the workspace, newest first. */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { problems, AUTH_ERRORS } from '../../errors/openapi'
import { parsePageQuery, sendPage } from '../../lib/pagination'
import type { AuthPlugin } from '../../plugins/auth'
import { AuditModel } from './model'
import { listAuditPage } from './service'

/** The /audit-log routes. */
export const auditModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ prefix: '/audit-log', tags: ['Audit log'] })
    .use(auth)
    .get(
      '',
      async ({ query, auth, request, set }) =>
        sendPage(request.url, set, await listAuditPage(deps, auth.workspaceId, { action: query.action, since: query.since }, parsePageQuery(query))),
      {
        scope: 'keys:manage',
        query: AuditModel.listQuery,
        response: { 200: AuditModel.list, ...problems(...AUTH_ERRORS, 422) },
        detail: {
          operationId: 'listAuditLog',
          summary: 'List the audit log',
          description:
            'Who created or revoked API keys, created, changed or deleted webhook endpoints (or rotated their secrets), invited, changed or removed members, ' +
            'created, renamed or deleted the workspace, signed in to the dashboard, exported or imported contacts and leads, or erased a contact: when, ' +
            'and from which client IP. Newest first. The actor is an operator (by email), an API key (by prefix), the CLI or the system. ' +
            'Entries are kept until an operator removes them; they record ids and small facts, never secrets or erased personal data. ' +
            'Scope `keys:manage` (the strongest scope: the log shows every key holder’s actions).',
        },
      },
    )
