/** CSV out of the dashboard: the contacts and leads lists, with the filters on screen, through the API's export services. */
import { Elysia } from 'elysia'
import { csvResponse } from '../../lib/csv'
import { csvFileName } from '../../modules/contacts'
import { exportContactsCsv } from '../../modules/contacts/service'
import { exportLeadsCsv } from '../../modules/leads/service'
import type { DashboardKit } from '../kit'
import { BASE } from '../layout'
import { HIDDEN } from '../kit'

/** Blank form fields mean "no filter", as on the list pages. */
const given = (value: string | undefined) => value || undefined

/** GET contacts.csv and leads.csv beside the list pages. */
export const dataIoRoutes = (kit: DashboardKit) => {
  const { clock, signedIn, needs } = kit
  return new Elysia()
    .get(
      `${BASE}/contacts.csv`,
      signedIn(
        needs('contacts:read', async (c) => {
          const filters = { q: given(c.query.q), email: given(c.query.email), source: given(c.query.source) }
          const stream = await exportContactsCsv(c.deps, c.workspaceId, filters, { bom: c.query.bom === 'true' })
          return csvResponse(stream, csvFileName('contacts', clock.now()))
        }),
      ),
      HIDDEN,
    )
    .get(
      `${BASE}/leads.csv`,
      signedIn(
        needs('leads:read', async (c) => {
          const filters = { source: given(c.query.source), status: given(c.query.status) }
          const stream = await exportLeadsCsv(c.deps, c.workspaceId, filters, { bom: c.query.bom === 'true' })
          return csvResponse(stream, csvFileName('leads', clock.now()))
        }),
      ),
      HIDDEN,
    )
}
