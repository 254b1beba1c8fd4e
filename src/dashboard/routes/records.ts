/** The pages over the workspace's data: overview, contacts, leads, deals and the embed snippets. */
import { Elysia } from 'elysia'
import { formParser } from '../../plugins/body'
import { checkModel } from '../../lib/check-model'
import { DealModel } from '../../modules/deals/model'
import { updateDeal } from '../../modules/deals/service'
import { eraseContact } from '../../modules/contacts/service'
import { invalid } from '../../errors'
import { BASE } from '../layout'
import { contactPage, contactsPage } from '../pages/contacts'
import { dealsPage } from '../pages/deals'
import { embedPage } from '../pages/embed'
import { leadsPage } from '../pages/leads'
import { overviewPage } from '../pages/overview'
import { type DashboardKit, field, FORM_POST, HIDDEN, redirect } from '../kit'

/** Overview, contacts, leads, deals (with moving a deal) and embed. */
export const recordRoutes = (kit: DashboardKit) => {
  const { deps, clock, signedIn, needs, page, pageRequest } = kit

  return new Elysia()
    .use(formParser)
    .get(BASE, signedIn(needs('leads:read', async (c) => page(c, 'Overview', await overviewPage(deps, c.viewer.base, c.workspaceId, clock.now())))), HIDDEN)
    .get(
      `${BASE}/contacts`,
      signedIn(needs('contacts:read', async (c) => page(c, 'Contacts', await contactsPage(deps, c.viewer.base, c.workspaceId, c.query, pageRequest(c.query))))),
      HIDDEN,
    )
    .get(
      `${BASE}/contacts/:id`,
      signedIn(
        needs('contacts:read', async (c) => {
          const eraser = c.active.key.scopes.includes('contacts:write') ? c.viewer : null
          const { title, content } = await contactPage(deps, c.viewer.base, c.workspaceId, c.params.id!, pageRequest(c.query), eraser)
          return page(c, title, content)
        }),
      ),
      HIDDEN,
    )
    .post(
      `${BASE}/contacts/:id/erase`,
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
      `${BASE}/leads`,
      signedIn(needs('leads:read', async (c) => page(c, 'Leads', await leadsPage(deps, c.viewer.base, c.workspaceId, c.query, pageRequest(c.query))))),
      HIDDEN,
    )
    .get(`${BASE}/deals`, signedIn(needs('deals:read', async (c) => page(c, 'Deals', await dealsPage(deps, c.workspaceId, c.viewer)))), HIDDEN)
    .post(
      `${BASE}/deals/:id/stage`,
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
      `${BASE}/embed`,
      signedIn(async (c) => page(c, 'Embed', await embedPage(deps, c.viewer.base, c.workspaceId, new URL(c.request.url).origin, clock.now()))),
      HIDDEN,
    )
}
