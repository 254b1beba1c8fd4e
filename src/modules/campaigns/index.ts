/** Campaign routes: CRUD and spend reports. */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { parsePageQuery, sendPage } from '../../lib/pagination'
import { problems, AUTH_ERRORS, BODY_ERRORS } from '../../errors/openapi'
import { API_PREFIX } from '../../lib/api-prefix'
import type { AuthPlugin } from '../../plugins/auth'
import { answerWrite } from '../../plugins/idempotency'
import { CampaignModel } from './model'
import { createCampaign, getCampaign, listCampaigns, recordSpend, serializeCampaign, updateCampaign } from './service'

const THRESHOLD_RULES =
  'Each threshold emits `campaign.spend_threshold` (data: `campaign`, `threshold`, `spend`) exactly once, in the same transaction as the change ' +
  'that reached it, even when spend reports race.'

/** The /campaigns routes. */
export const campaignsModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ prefix: '/campaigns', tags: ['Campaigns'] })
    .use(auth)
    .get(
      '',
      async ({ query, auth, request, set }) => {
        return sendPage(request.url, set, await listCampaigns(deps, auth.workspaceId, parsePageQuery(query)))
      },
      {
        scope: 'campaigns:read',
        query: CampaignModel.listQuery,
        response: { 200: CampaignModel.list, ...problems(...AUTH_ERRORS, 422) },
        detail: {
          operationId: 'listCampaigns',
          summary: 'List campaigns',
          description: 'Campaigns of the workspace, newest first, in the pagination envelope with an RFC 8288 `Link` header. Scope `campaigns:read`.',
        },
      },
    )
    .post(
      '',
      ({ body, auth, request, set }) =>
        answerWrite(
          { request, set },
          deps,
          (d) => createCampaign(d, auth.workspaceId, body),
          (campaign) => ({ status: 201, headers: { location: `${API_PREFIX}/campaigns/${campaign.id}` }, body: serializeCampaign(campaign) }),
        ),
      {
        scope: 'campaigns:write',
        body: CampaignModel.createBody,
        response: { 201: CampaignModel.campaign, ...problems(...BODY_ERRORS) },
        detail: {
          operationId: 'createCampaign',
          summary: 'Create a campaign',
          description: `A campaign with a currency, an optional budget and spend thresholds; its spend starts at 0. ${THRESHOLD_RULES} Scope \`campaigns:write\`.`,
        },
      },
    )
    .get('/:id', async ({ params, auth }) => serializeCampaign(await getCampaign(deps, auth.workspaceId, params.id)), {
      scope: 'campaigns:read',
      params: CampaignModel.params,
      response: { 200: CampaignModel.campaign, ...problems(...AUTH_ERRORS, 404) },
      detail: {
        operationId: 'getCampaign',
        summary: 'Get a campaign',
        description: 'One campaign with its spend and the thresholds it has crossed. Scope `campaigns:read`.',
      },
    })
    .patch('/:id', async ({ params, body, auth }) => serializeCampaign(await updateCampaign(deps, auth.workspaceId, params.id, body)), {
      scope: 'campaigns:write',
      params: CampaignModel.params,
      body: CampaignModel.patchBody,
      response: { 200: CampaignModel.campaign, ...problems(...BODY_ERRORS, 404) },
      detail: {
        operationId: 'updateCampaign',
        summary: 'Update a campaign',
        description:
          'Changes the name, budget or thresholds (`spend_thresholds` replaces the list). Thresholds already crossed stay crossed and never fire again, ' +
          'even when removed and added back; a new threshold at or below the current spend is crossed at once and emits its event now. ' +
          'Scope `campaigns:write`.',
      },
    })
    .post(
      '/:id/spend',
      ({ params, body, auth, request, set }) =>
        answerWrite(
          { request, set },
          deps,
          (d) => recordSpend(d, auth.workspaceId, params.id, body),
          (campaign) => ({ status: 200, body: serializeCampaign(campaign) }),
        ),
      {
        scope: 'campaigns:write',
        params: CampaignModel.params,
        body: CampaignModel.spendBody,
        response: { 200: CampaignModel.campaign, ...problems(...BODY_ERRORS, 404, 409) },
        detail: {
          operationId: 'reportCampaignSpend',
          summary: 'Report spend',
          description:
            'Send exactly one of `amount` (added to the spend; greater than 0) or `total` (the new total). Spend only grows: a `total` below the ' +
            `current spend is refused with 409, so a late, stale report cannot roll it back; an equal total changes nothing. ${THRESHOLD_RULES} ` +
            'Answers the campaign after the update. Scope `campaigns:write`.',
        },
      },
    )
