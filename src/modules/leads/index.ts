/** Lead routes: push from servers (`/inbound`), list and read, convert into a deal. */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { parsePageQuery, sendPage } from '../../lib/pagination'
import { problems, AUTH_ERRORS, BODY_ERRORS } from '../../errors/openapi'
import { API_PREFIX } from '../../lib/api-prefix'
import type { AuthPlugin } from '../../plugins/auth'
import { answerWrite } from '../../plugins/idempotency'
import { serializeDeal } from '../deals/service'
import { LeadModel } from './model'
import { convertLead, createLead, exportLeadsCsv, getLead, listLeads, serializeLead, type LeadFilters } from './service'
import { csvFileName, csvResponse } from '../../lib/csv'
import { csvFile } from '../../lib/model-fields'
import { actingFor } from '../../plugins/request-context'
import { CSV_EXPORT_TEXT } from '../contacts'

/** The list filters of a leads query string (the JSON list and the CSV export). */
function leadFilters(query: Omit<LeadModel.listQuery, 'page' | 'limit' | 'after'>): LeadFilters {
  return { source: query.source, status: query.status, contactId: query.contact_id, createdSince: query.created_since }
}

/** GET /leads.csv: beside the /leads routes, outside their prefix (Elysia would put a slash before `.csv`). */
export const leadsExportModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ tags: ['Leads'] }).use(auth).get(
    '/leads.csv',
    async ({ query, auth, request }) => {
      const stream = await exportLeadsCsv(actingFor(deps, request), auth.workspaceId, leadFilters(query), { bom: query.bom === 'true' })
      return csvResponse(stream, csvFileName('leads', deps.clock.now()))
    },
    {
      scope: 'leads:read',
      query: LeadModel.exportQuery,
      response: { 200: csvFile('Every matching lead, newest first; saved as leads-<date>.csv.'), ...problems(...AUTH_ERRORS, 422) },
      detail: {
        operationId: 'exportLeads',
        summary: 'Export leads as CSV',
        description:
          'Every lead matching the same filters as `GET /leads` (source, status, contact_id, created_since; no pages), newest first. Columns: id, ' +
          'contact_id, channel, source, email, phone, first_name, last_name, status, deal_id, metadata, context, created_at, converted_at. ' +
          `${CSV_EXPORT_TEXT} Scope \`leads:read\`.`,
      },
    },
  )

/** The /leads routes (browser capture lives in the capture module). */
export const leadsModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ prefix: '/leads', tags: ['Leads'] })
    .use(auth)
    .get(
      '',
      async ({ query, auth, request, set }) => {
        return sendPage(request.url, set, await listLeads(deps, auth.workspaceId, leadFilters(query), parsePageQuery(query)))
      },
      {
        scope: 'leads:read',
        query: LeadModel.listQuery,
        response: { 200: LeadModel.list, ...problems(...AUTH_ERRORS, 422) },
        detail: {
          operationId: 'listLeads',
          summary: 'List leads',
          description:
            'Every lead (each submission, verbatim), newest first, in the pagination envelope with an RFC 8288 `Link` header. ' +
            'Filters: `source`, `status` (new, converted), `contact_id`, `created_since`. Scope `leads:read`.',
        },
      },
    )
    .get('/:id', async ({ params, auth }) => serializeLead(await getLead(deps, auth.workspaceId, params.id)), {
      scope: 'leads:read',
      params: LeadModel.idParams,
      response: { 200: LeadModel.lead, ...problems(...AUTH_ERRORS, 404) },
      detail: { operationId: 'getLead', summary: 'Get a lead', description: 'One lead with every field it arrived with. Scope `leads:read`.' },
    })
    .post(
      '/:id/convert',
      ({ params, body, auth, request, set }) =>
        answerWrite(
          { request, set },
          deps,
          (d) => convertLead(d, auth.workspaceId, params.id, body ?? {}),
          ({ lead, deal, created }) => ({
            status: created ? 201 : 200,
            headers: created ? { location: `${API_PREFIX}/deals/${deal.id}` } : undefined,
            body: { lead: serializeLead(lead), deal: serializeDeal(deal) },
          }),
        ),
      {
        scope: 'leads:write',
        params: LeadModel.idParams,
        body: LeadModel.convertBody,
        response: { 200: LeadModel.converted, 201: LeadModel.converted, ...problems(...BODY_ERRORS, 404) },
        detail: {
          operationId: 'convertLead',
          summary: 'Convert a lead into a deal',
          description:
            "Creates a deal for the lead's contact (title defaults to the lead's name, value 0, currency USD, stage new), marks the lead " +
            '`converted` and emits `lead.converted` with both: **201**. Converting an already converted lead is safe to retry: it answers ' +
            '**200** with the same deal, ignores the body and emits nothing. Converting straight to won or lost also emits `deal.closed`. ' +
            'Scope `leads:write`.',
        },
      },
    )
    .post(
      '/inbound',
      ({ body, auth, request, set }) => {
        const { email, phone, first_name, last_name, source, metadata, ...unknownFields } = body
        const input = { email, phone, firstName: first_name, lastName: last_name, source: source ?? 'api', metadata: { ...unknownFields, ...metadata } }
        return answerWrite(
          { request, set },
          deps,
          (d) => createLead(d, auth.workspaceId, 'inbound', input),
          (lead) => ({
            status: 201,
            headers: { location: `${API_PREFIX}/leads/${lead.id}` },
            body: { id: lead.id, status: 'created' as const, contact_id: lead.contactId },
          }),
        )
      },
      {
        scope: 'leads:write',
        body: LeadModel.inboundBody,
        response: { 201: LeadModel.created, ...problems(...BODY_ERRORS) },
        detail: {
          operationId: 'createInboundLead',
          summary: 'Push a lead',
          description:
            'Push a lead from any server-side source (CRM, form builder, Zapier, cron). The contact is found by normalised email, else phone, ' +
            'and updated (empty fields filled, metadata merged, newer wins) or created. Metadata (with unknown top-level fields) is at most 100 keys and ' +
            "32 KB as JSON (422 naming the limit); the lead keeps all of it, while the contact's merged metadata keeps the newest keys within 64 KB. " +
            'email, names, phone and source may not hold control characters (422) and are stored in Unicode NFC. Emits `lead.created`. Scope `leads:write`.',
        },
      },
    )
