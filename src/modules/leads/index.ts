/** Lead routes: push from servers (`/inbound`). */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { problems, BODY_ERRORS } from '../../lib/problem-model'
import type { AuthPlugin } from '../../plugins/auth'
import { LeadModel } from './model'
import { createLead } from './service'

export const leadsModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ prefix: '/leads', tags: ['Leads'] }).use(auth).post(
    '/inbound',
    ({ body, auth, set }) => {
      const { email, phone, first_name, last_name, source, metadata, ...unknownFields } = body
      const lead = createLead(deps, auth.workspaceId, 'inbound', {
        email,
        phone,
        firstName: first_name,
        lastName: last_name,
        source: source ?? 'api',
        metadata: { ...unknownFields, ...metadata },
      })
      set.status = 201
      set.headers.location = `/api/v1/leads/${lead.id}`
      return { id: lead.id, status: 'created' as const, contact_id: lead.contactId }
    },
    {
      scope: 'leads:write',
      body: LeadModel.inboundBody,
      response: { 201: LeadModel.created, ...problems(...BODY_ERRORS) },
      detail: {
        summary: 'Push a lead',
        description:
          'Push a lead from any server-side source (CRM, form builder, Zapier, cron). The contact is found by normalised email, else phone, ' +
          'and updated (empty fields filled, metadata merged, newer wins) or created. Emits `lead.created`. Scope `leads:write`.',
      },
    },
  )
