/** The pages over the workspace's data: overview, contacts, leads, deals and the embed snippets. */
import { Elysia } from 'elysia'
import { formParser } from '../../plugins/body'
import { checkModel } from '../../lib/check-model'
import { DealModel } from '../../modules/deals/model'
import { createDeal, updateDeal } from '../../modules/deals/service'
import { eraseContact } from '../../modules/contacts/service'
import { LeadModel } from '../../modules/leads/model'
import { convertLead } from '../../modules/leads/service'
import { ApiError, invalid } from '../../errors'
import type { Scope } from '../../lib/scopes'
import { WORKSPACE } from '../layout'
import { contactPage, contactsPage } from '../pages/contacts'
import { dealPage, dealsPage, newDealPage, type DealForm } from '../pages/deals'
import { embedPage } from '../pages/embed'
import { convertPage, leadsPage } from '../pages/leads'
import { overviewPage } from '../pages/overview'
import { type DashboardKit, field, FORM_POST, HIDDEN, redirect, type SignedIn } from '../kit'

const EMPTY_DEAL: DealForm = { title: '', value: '', currency: 'USD', stage: 'new', contact: '' }

/** The deal form as typed (the currency in capitals, as ISO 4217 writes it). */
function dealForm(body: unknown): DealForm {
  return {
    title: field(body, 'title') ?? '',
    value: (field(body, 'value') ?? '').trim(),
    currency: (field(body, 'currency') ?? '').trim().toUpperCase(),
    stage: field(body, 'stage') ?? '',
    contact: (field(body, 'contact_id') ?? '').trim(),
  }
}

/** Value, currency and stage as the API's bodies take them: an empty field is left out (the default, or unchanged). */
function dealBody(form: DealForm) {
  return {
    ...(form.value ? { value: form.value } : {}),
    ...(form.currency ? { currency: form.currency } : {}),
    ...(form.stage ? { stage: form.stage } : {}),
  }
}

/** Whether the session (its key, or its operator's role) holds `scope` (to offer a form only to who may send it; every action checks again). */
function holds(c: SignedIn, scope: Scope): boolean {
  return c.scopes.includes(scope)
}

/** Overview, contacts, leads (with converting one), deals (create, edit, move) and embed. */
export const recordRoutes = (kit: DashboardKit) => {
  const { deps, clock, signedIn, needs, page, pageRequest, publicOrigin } = kit

  return new Elysia()
    .use(formParser)
    .get(
      WORKSPACE,
      signedIn(needs('leads:read', async (c) => page(c, 'Overview', await overviewPage(deps, c.viewer.base, c.workspaceId, clock.now())))),
      HIDDEN,
    )
    .get(
      `${WORKSPACE}/contacts`,
      signedIn(needs('contacts:read', async (c) => page(c, 'Contacts', await contactsPage(deps, c.viewer.base, c.workspaceId, c.query, pageRequest(c.query))))),
      HIDDEN,
    )
    .get(
      `${WORKSPACE}/contacts/:id`,
      signedIn(
        needs('contacts:read', async (c) => {
          const eraser = holds(c, 'contacts:write') ? c.viewer : null
          const { title, content } = await contactPage(deps, c.viewer.base, c.workspaceId, c.params.id!, pageRequest(c.query), holds(c, 'leads:write'), eraser)
          return page(c, title, content)
        }),
      ),
      HIDDEN,
    )
    .post(
      `${WORKSPACE}/contacts/:id/erase`,
      signedIn(
        needs('contacts:write', async (c) => {
          // The box is required in the form; a post without it (no browser check, a crafted request) erases nothing.
          if (field(c.body, 'understood') !== 'yes') throw invalid('/understood', 'tick "I understand" to erase the contact')
          await eraseContact(c.deps, c.workspaceId, c.params.id!)
          return redirect(`${c.viewer.base}/contacts?done=erased`)
        }),
      ),
      FORM_POST,
    )
    .get(
      `${WORKSPACE}/leads`,
      signedIn(
        needs('leads:read', async (c) =>
          page(c, 'Leads', await leadsPage(deps, c.viewer.base, c.workspaceId, c.query, pageRequest(c.query), holds(c, 'leads:write'))),
        ),
      ),
      HIDDEN,
    )
    .get(
      `${WORKSPACE}/deals`,
      signedIn(needs('deals:read', async (c) => page(c, 'Deals', await dealsPage(deps, c.workspaceId, c.viewer, holds(c, 'deals:write'))))),
      HIDDEN,
    )
    .post(
      `${WORKSPACE}/deals/:id/stage`,
      signedIn(
        needs('deals:write', async (c) => {
          // The API's own PATCH path: the service decides whether this closes the deal and emits deal.closed.
          const { stage } = checkModel(DealModel.patchBody, { stage: field(c.body, 'stage') ?? '' })
          await updateDeal(c.deps, c.workspaceId, c.params.id!, { stage })
          return redirect(`${c.viewer.base}/deals?done=moved`)
        }),
      ),
      FORM_POST,
    )
    .get(
      `${WORKSPACE}/deals/new`,
      signedIn(needs('deals:write', (c) => page(c, 'New deal', newDealPage(c.viewer, { ...EMPTY_DEAL, contact: c.query.contact ?? '' })))),
      HIDDEN,
    )
    .post(
      `${WORKSPACE}/deals`,
      signedIn(
        needs('deals:write', async (c) => {
          const form = dealForm(c.body)
          try {
            const body = checkModel(DealModel.createBody, { ...dealBody(form), title: form.title, ...(form.contact ? { contact_id: form.contact } : {}) })
            const deal = await createDeal(c.deps, c.workspaceId, { ...body, contactId: body.contact_id })
            return redirect(`${c.viewer.base}/deals/${deal.id}?done=deal_created`)
          } catch (error) {
            if (!(error instanceof ApiError)) throw error
            return page(c, 'New deal', newDealPage(c.viewer, form), error.status, [{ kind: 'error', text: error.detail }])
          }
        }),
      ),
      FORM_POST,
    )
    .get(
      `${WORKSPACE}/deals/:id`,
      signedIn(
        needs('deals:read', async (c) => {
          const { title, content } = await dealPage(deps, c.workspaceId, c.params.id!, c.viewer, holds(c, 'deals:write'))
          return page(c, title, content)
        }),
      ),
      HIDDEN,
    )
    .post(
      `${WORKSPACE}/deals/:id/edit`,
      signedIn(
        needs('deals:write', async (c) => {
          const form = dealForm(c.body)
          try {
            // A PATCH of the fields the form shows: an empty value or currency leaves it as it is.
            const body = checkModel(DealModel.patchBody, { ...dealBody(form), title: form.title })
            await updateDeal(c.deps, c.workspaceId, c.params.id!, body)
            return redirect(`${c.viewer.base}/deals/${c.params.id}?done=deal_saved`)
          } catch (error) {
            if (!(error instanceof ApiError) || error.code === 'not_found') throw error
            const { title, content } = await dealPage(deps, c.workspaceId, c.params.id!, c.viewer, true, form)
            return page(c, title, content, error.status, [{ kind: 'error', text: error.detail }])
          }
        }),
      ),
      FORM_POST,
    )
    .get(
      `${WORKSPACE}/leads/:id/convert`,
      signedIn(
        needs('leads:write', async (c) => {
          const { title, content } = await convertPage(deps, c.viewer, c.workspaceId, c.params.id!)
          return page(c, title, content)
        }),
      ),
      HIDDEN,
    )
    .post(
      `${WORKSPACE}/leads/:id/convert`,
      signedIn(
        needs('leads:write', async (c) => {
          const form = dealForm(c.body)
          try {
            const body = checkModel(LeadModel.convertBody, { ...dealBody(form), ...(form.title.trim() ? { title: form.title } : {}) }) ?? {}
            const { deal } = await convertLead(c.deps, c.workspaceId, c.params.id!, body)
            return redirect(`${c.viewer.base}/deals/${deal.id}?done=converted`)
          } catch (error) {
            if (!(error instanceof ApiError) || error.code === 'not_found') throw error
            const { title, content } = await convertPage(deps, c.viewer, c.workspaceId, c.params.id!, form)
            return page(c, title, content, error.status, [{ kind: 'error', text: error.detail }])
          }
        }),
      ),
      FORM_POST,
    )
    .get(
      `${WORKSPACE}/embed`,
      signedIn(async (c) => page(c, 'Embed', await embedPage(deps, c.viewer.base, c.workspaceId, publicOrigin(c), clock.now()))),
      HIDDEN,
    )
}
