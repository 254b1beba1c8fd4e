/** The sources page: everyone signed in sees the list; keys:manage creates (the URL shown once), rotates and revokes. */
import { Elysia } from 'elysia'
import { ApiError } from '../../errors'
import { checkModel } from '../../lib/check-model'
import { SourceModel } from '../../modules/sources/model'
import { createSource, revokeSource, rotateSource, sourceInputOf } from '../../modules/sources/service'
import { formParser } from '../../plugins/body'
import { type DashboardKit, field, FORM_POST, HIDDEN, redirect, type SignedIn } from '../kit'
import { SOURCES_PATH } from '../layout'
import { type SourceForm, sourcesPage, sourceUrlPage } from '../pages/sources'

/** The source routes; actions call the same services as the API, with the session's own rights. */
export const sourceRoutes = (kit: DashboardKit) => {
  const { deps, signedIn, needs, page, publicOrigin } = kit
  const manage = (handler: (c: SignedIn) => Response | Promise<Response>) => signedIn(needs('keys:manage', handler))

  /** A source cannot out-rate the session that makes it: its key's limit, else the instance's. */
  const ceiling = (c: SignedIn) => c.active.key?.rateLimit ?? deps.config.rateLimit.capacity
  const limits = (c: SignedIn) => ({ ceiling: ceiling(c), windowSeconds: Math.round(deps.config.rateLimit.windowMs / 1000) })
  const view = async (c: SignedIn, form?: SourceForm, error?: ApiError) =>
    page(c, 'Sources', await sourcesPage(deps, c.viewer, limits(c), form), error?.status ?? 200, error ? [{ kind: 'error', text: error.detail }] : c.notices)

  /** A secret field as typed: an empty box means none. */
  const secret = (c: SignedIn, name: string) => {
    const value = field(c.body, name)
    return value ? { [name]: value } : {}
  }

  return new Elysia()
    .use(formParser)
    .get(
      SOURCES_PATH,
      signedIn((c) => view(c)),
      HIDDEN,
    )
    .post(
      SOURCES_PATH,
      manage(async (c) => {
        const form: SourceForm = {
          name: field(c.body, 'name') ?? '',
          preset: field(c.body, 'preset') ?? '',
          rateLimit: (field(c.body, 'rate_limit') ?? '').trim(),
        }
        try {
          // The API's own model first, so the form accepts exactly what POST /sources does.
          const body = checkModel(SourceModel.createBody, {
            name: form.name,
            preset: form.preset,
            ...secret(c, 'signing_secret'),
            ...secret(c, 'verify_token'),
            ...secret(c, 'access_token'),
            ...(form.rateLimit ? { rate_limit: /^\d{1,9}$/.test(form.rateLimit) ? Number(form.rateLimit) : form.rateLimit } : {}),
          })
          const { record, url } = await createSource(c.deps, c.workspaceId, sourceInputOf(body), publicOrigin(c), ceiling(c))
          return page(c, 'Sources', sourceUrlPage(c.viewer.base, record, url, false), 201, [])
        } catch (error) {
          if (error instanceof ApiError) return view(c, form, error)
          throw error
        }
      }),
      FORM_POST,
    )
    .post(
      `${SOURCES_PATH}/:id/rotate`,
      manage(async (c) => {
        const { record, url } = await rotateSource(c.deps, c.workspaceId, c.params.id!, publicOrigin(c))
        return page(c, 'Sources', sourceUrlPage(c.viewer.base, record, url, true), 200, [])
      }),
      FORM_POST,
    )
    .post(
      `${SOURCES_PATH}/:id/revoke`,
      manage(async (c) => {
        await revokeSource(c.deps, c.workspaceId, c.params.id!)
        return redirect(`${c.viewer.base}/settings/sources?done=source_revoked`)
      }),
      FORM_POST,
    )
}
