/** The audit-log page. */
import { Elysia } from 'elysia'
import { auditPage } from '../pages/audit'
import { type DashboardKit, HIDDEN } from '../kit'
import { WORKSPACE } from '../layout'

/** The audit log, for those who may read it through the API too (`keys:manage`). */
export const auditRoutes = (kit: DashboardKit) => {
  const { signedIn, needs, page, pageRequest } = kit
  return new Elysia().get(
    `${WORKSPACE}/settings/audit-log`,
    signedIn(needs('keys:manage', async (c) => page(c, 'Audit log', await auditPage(c.deps, c.viewer.base, c.workspaceId, c.query, pageRequest(c.query))))),
    HIDDEN,
  )
}
