/** Deal routes: list by stage, create, read, edit (closing emits `deal.closed`). */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { parsePageQuery, sendPage } from '../../lib/pagination'
import { problems, AUTH_ERRORS, BODY_ERRORS } from '../../errors/openapi'
import { API_PREFIX } from '../../lib/api-prefix'
import type { AuthPlugin } from '../../plugins/auth'
import { answerWrite } from '../../plugins/idempotency'
import { DealModel } from './model'
import { createDeal, getDeal, listDeals, serializeDeal, updateDeal } from './service'

const CLOSE_RULE =
  'Entering `won` or `lost` from another stage emits `deal.closed` once: saving the same stage again emits nothing, ' +
  'and a reopened deal (won → negotiation → won) closes, and emits, again.'

/** The /deals routes. */
export const dealsModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ prefix: '/deals', tags: ['Deals'] })
    .use(auth)
    .get(
      '',
      async ({ query, auth, request, set }) => {
        return sendPage(request.url, set, await listDeals(deps, auth.workspaceId, { stage: query.stage, contactId: query.contact_id }, parsePageQuery(query)))
      },
      {
        scope: 'deals:read',
        query: DealModel.listQuery,
        response: { 200: DealModel.list, ...problems(...AUTH_ERRORS, 422) },
        detail: {
          operationId: 'listDeals',
          summary: 'List deals',
          description:
            'Deals of the workspace, newest first, in the pagination envelope with an RFC 8288 `Link` header. Filter by `stage` ' +
            '(an unknown stage is a 422 naming the six valid ones) or `contact_id`. Scope `deals:read`.',
        },
      },
    )
    .post(
      '',
      ({ body: { contact_id, ...fields }, auth, request, set }) =>
        answerWrite(
          { request, set },
          deps,
          (d) => createDeal(d, auth.workspaceId, { ...fields, contactId: contact_id }),
          (deal) => ({ status: 201, headers: { location: `${API_PREFIX}/deals/${deal.id}` }, body: serializeDeal(deal) }),
        ),
      {
        scope: 'deals:write',
        body: DealModel.createBody,
        response: { 201: DealModel.deal, ...problems(...BODY_ERRORS) },
        detail: {
          operationId: 'createDeal',
          summary: 'Create a deal',
          description:
            'Creates a deal with an exact `value` (at most 2 decimal places) in `currency` (default USD), in `stage` (default `new`), ' +
            'optionally for a contact of this workspace. A deal created as `won` or `lost` emits `deal.closed`. Scope `deals:write`.',
        },
      },
    )
    .get('/:id', async ({ params, auth }) => serializeDeal(await getDeal(deps, auth.workspaceId, params.id)), {
      scope: 'deals:read',
      params: DealModel.idParams,
      response: { 200: DealModel.deal, ...problems(...AUTH_ERRORS, 404) },
      detail: { operationId: 'getDeal', summary: 'Get a deal', description: 'One deal of the workspace. Scope `deals:read`.' },
    })
    .patch(
      '/:id',
      async ({ params, body: { contact_id, ...fields }, auth }) =>
        serializeDeal(await updateDeal(deps, auth.workspaceId, params.id, { ...fields, contactId: contact_id })),
      {
        scope: 'deals:write',
        params: DealModel.idParams,
        body: DealModel.patchBody,
        response: { 200: DealModel.deal, ...problems(...BODY_ERRORS, 404) },
        detail: {
          operationId: 'updateDeal',
          summary: 'Update a deal',
          description: `Changes the fields sent; \`metadata\` is merged (a key set to null is removed). ${CLOSE_RULE} Scope \`deals:write\`.`,
        },
      },
    )
