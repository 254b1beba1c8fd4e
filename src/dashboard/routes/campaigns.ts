/** The campaign pages: list and create, one campaign with its edit and spend forms. */
import { Elysia } from 'elysia'
import { ApiError } from '../../errors'
import { checkModel } from '../../lib/check-model'
import type { Scope } from '../../lib/scopes'
import { CampaignModel } from '../../modules/campaigns/model'
import { createCampaign, recordSpend, updateCampaign } from '../../modules/campaigns/service'
import { formParser } from '../../plugins/body'
import { WORKSPACE } from '../layout'
import { campaignPage, campaignsPage, type CampaignForm, type SpendForm } from '../pages/campaigns'
import { type DashboardKit, field, FORM_POST, HIDDEN, redirect, type SignedIn } from '../kit'

/** The campaign form as typed (the currency in capitals, as ISO 4217 writes it). */
function campaignForm(body: unknown): CampaignForm {
  return {
    name: field(body, 'name') ?? '',
    currency: (field(body, 'currency') ?? '').trim().toUpperCase(),
    budget: (field(body, 'budget') ?? '').trim(),
    thresholds: field(body, 'spend_thresholds') ?? '',
  }
}

/** "1000, 2500 4500.50" → the amounts as the API's body takes them (strings; the service parses money). */
function thresholdList(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean)
}

/** Whether the session (its key, or its operator's role) holds `scope` (to offer a form only to who may send it; every action checks again). */
function holds(c: SignedIn, scope: Scope): boolean {
  return c.scopes.includes(scope)
}

/** Campaign pages need `campaigns:read`, their actions `campaigns:write`, like the API. */
export const campaignRoutes = (kit: DashboardKit) => {
  const { deps, signedIn, needs, page, pageRequest } = kit

  const listView = async (c: SignedIn, form?: CampaignForm, error?: ApiError) =>
    page(
      c,
      'Campaigns',
      await campaignsPage(deps, c.workspaceId, c.viewer, pageRequest(c.query), form, holds(c, 'campaigns:write')),
      error?.status ?? 200,
      error ? [{ kind: 'error', text: error.detail }] : c.notices,
    )

  const campaignView = async (c: SignedIn, forms: { edit?: CampaignForm; spend?: SpendForm } = {}, error?: ApiError) => {
    const opts = { ...forms, canWrite: holds(c, 'campaigns:write'), canSeeDeliveries: holds(c, 'webhooks:manage') }
    const { title, content } = await campaignPage(deps, c.workspaceId, c.params.id!, c.viewer, opts)
    return page(c, title, content, error?.status ?? 200, error ? [{ kind: 'error', text: error.detail }] : c.notices)
  }

  /** Runs a write; a refusal other than a 404 shows the page again with what was sent and the reason. */
  const orShow = async (work: () => Promise<Response>, show: (error: ApiError) => Promise<Response>) => {
    try {
      return await work()
    } catch (error) {
      if (!(error instanceof ApiError) || error.code === 'not_found') throw error
      return show(error)
    }
  }

  return new Elysia()
    .use(formParser)
    .get(`${WORKSPACE}/campaigns`, signedIn(needs('campaigns:read', (c) => listView(c))), HIDDEN)
    .post(
      `${WORKSPACE}/campaigns`,
      signedIn(
        needs('campaigns:write', (c) => {
          const form = campaignForm(c.body)
          return orShow(
            async () => {
              const body = checkModel(CampaignModel.createBody, {
                name: form.name,
                currency: form.currency,
                ...(form.budget ? { budget: form.budget } : {}),
                spend_thresholds: thresholdList(form.thresholds),
              })
              const campaign = await createCampaign(c.deps, c.workspaceId, body)
              return redirect(`${c.viewer.base}/campaigns/${campaign.id}?done=campaign_created`)
            },
            (error) => listView(c, form, error),
          )
        }),
      ),
      FORM_POST,
    )
    .get(`${WORKSPACE}/campaigns/:id`, signedIn(needs('campaigns:read', (c) => campaignView(c))), HIDDEN)
    .post(
      `${WORKSPACE}/campaigns/:id/edit`,
      signedIn(
        needs('campaigns:write', (c) => {
          const form = campaignForm(c.body)
          return orShow(
            async () => {
              // Every field of the form is sent, as a PATCH with all of them: an empty budget removes it, no thresholds clears them.
              const body = checkModel(CampaignModel.patchBody, {
                name: form.name,
                budget: form.budget || null,
                spend_thresholds: thresholdList(form.thresholds),
              })
              await updateCampaign(c.deps, c.workspaceId, c.params.id!, body)
              return redirect(`${c.viewer.base}/campaigns/${c.params.id}?done=campaign_saved`)
            },
            (error) => campaignView(c, { edit: form }, error),
          )
        }),
      ),
      FORM_POST,
    )
    .post(
      `${WORKSPACE}/campaigns/:id/spend`,
      signedIn(
        needs('campaigns:write', (c) => {
          const form: SpendForm = { mode: field(c.body, 'mode') === 'total' ? 'total' : 'add', amount: (field(c.body, 'amount') ?? '').trim() }
          return orShow(
            async () => {
              const body = checkModel(CampaignModel.spendBody, form.mode === 'total' ? { total: form.amount } : { amount: form.amount })
              await recordSpend(c.deps, c.workspaceId, c.params.id!, body)
              return redirect(`${c.viewer.base}/campaigns/${c.params.id}?done=spend_recorded`)
            },
            (error) => campaignView(c, { spend: form }, error),
          )
        }),
      ),
      FORM_POST,
    )
}
