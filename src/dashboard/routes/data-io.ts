/**
 * CSV in and out of the dashboard: the contacts and leads lists with the filters on screen, and the
 * contacts import, through the API's own services.
 */
import { Elysia } from 'elysia'
import { csvFileName, csvResponse } from '../../lib/csv'
import { exportContactsCsv } from '../../modules/contacts/service'
import { exportLeadsCsv } from '../../modules/leads/service'
import { IMPORT_FIELDS, importContacts } from '../../modules/contacts/import'
import { findSession } from '../../modules/sessions/service'
import { uploadParser } from '../../plugins/body'
import { routedPath } from '../../plugins/request-context'
import { UPLOAD_PARSER } from '../../plugins/route-table'
import { readCookie, SESSION_COOKIE } from '../guard'
import { type DashboardKit, field, forbidden, HIDDEN } from '../kit'
import { WORKSPACE } from '../layout'
import { importForm, importReportView } from '../pages/import'

/** Blank form fields mean "no filter", as on the list pages. */
const given = (value: string | undefined) => value || undefined

/** The import's upload: read whole before its handler runs, so only a signed-in browser gets that far (checked before the body). */
const IMPORT_PATH = `${WORKSPACE}/contacts/import`

/** The routed path of an import upload in any workspace. */
const IMPORT_UPLOAD = /^\/dashboard\/w\/[^/]+\/contacts\/import\/?$/

/** GET contacts.csv and leads.csv beside the list pages; the import page and its upload. */
export const dataIoRoutes = (kit: DashboardKit) => {
  const { deps, clock, signedIn, needs, page } = kit
  return new Elysia()
    .use(uploadParser)
    .onRequest(async (context) => {
      const { request } = context
      if (request.method !== 'POST' || !IMPORT_UPLOAD.test(routedPath(context))) return
      if (!(await findSession(deps, readCookie(request, SESSION_COOKIE)))) return forbidden('Sign in to import contacts.')
    })
    .get(IMPORT_PATH, signedIn(needs('contacts:write', async (c) => page(c, 'Import contacts', importForm(c.viewer)))), HIDDEN)
    .post(
      IMPORT_PATH,
      signedIn(
        needs('contacts:write', async (c) => {
          const columns = Object.fromEntries(IMPORT_FIELDS.map((f) => [f, given(field(c.body, `column_${f}`)?.trim())]))
          const options = {
            dryRun: field(c.body, 'dry_run') === 'true',
            emitEvents: field(c.body, 'emit_events') === 'true',
            defaultSource: given(field(c.body, 'source')?.trim()) ?? 'import',
            columns,
          }
          const report = await importContacts(c.deps, c.workspaceId, field(c.body, 'file') ?? null, options)
          return page(c, report.dry_run ? 'Import checked' : 'Import done', importReportView(c.viewer, report))
        }),
      ),
      { ...HIDDEN, parse: UPLOAD_PARSER },
    )
    .get(
      `${WORKSPACE}/contacts.csv`,
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
      `${WORKSPACE}/leads.csv`,
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
