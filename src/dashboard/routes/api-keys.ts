/** The API keys page: list, create (shown once) and revoke. */
import { Elysia } from 'elysia'
import { formParser } from '../../plugins/body'
import { ApiError } from '../../errors'
import { checkModel } from '../../lib/check-model'
import { ApiKeyModel } from '../../modules/api-keys/model'
import { createKeyFor, revokeKey } from '../../modules/api-keys/service'
import { KEYS_PATH } from '../layout'
import { createdKeyPage, keysPage, type KeyForm } from '../pages/api-keys'
import { type DashboardKit, field, fields, FORM_POST, HIDDEN, redirect, type SignedIn } from '../kit'

/** The key pages; creating and revoking act with the session's own rights, like the API. */
export const keyRoutes = (kit: DashboardKit) => {
  const { deps, clock, signedIn, page } = kit

  const keysView = async (c: SignedIn, form?: KeyForm, error?: ApiError) =>
    page(c, 'API keys', await keysPage(deps, c.viewer, clock.now(), form), error?.status ?? 200, error ? [{ kind: 'error', text: error.detail }] : c.notices)
  return new Elysia()
    .use(formParser)
    .get(
      KEYS_PATH,
      signedIn((c) => keysView(c)),
      HIDDEN,
    )
    .post(
      KEYS_PATH,
      signedIn(async (c) => {
        const form: KeyForm = {
          kind: field(c.body, 'kind') ?? 'secret',
          name: field(c.body, 'name') ?? '',
          scopes: fields(c.body, 'scopes'),
          origins: field(c.body, 'allowed_origins') ?? '',
        }
        try {
          // The API's own model first, so the form accepts exactly what POST /api-keys does.
          const publishable = form.kind === 'publishable'
          const body = checkModel(ApiKeyModel.createBody, {
            kind: form.kind,
            name: form.name,
            ...(publishable || form.scopes.length === 0 ? {} : { scopes: form.scopes }),
            ...(publishable ? { allowed_origins: form.origins.split(/[\s,]+/).filter(Boolean) } : {}),
          })
          const { record, key } = await createKeyFor(
            c.deps,
            { key: c.active.key, defaultRateLimit: deps.config.rateLimit.capacity },
            {
              kind: body.kind,
              name: body.name,
              scopes: body.scopes,
              allowedOrigins: body.allowed_origins,
            },
          )
          return page(c, 'API keys', createdKeyPage(c.viewer.base, record, key, new URL(c.request.url).origin), 201, [])
        } catch (error) {
          if (error instanceof ApiError) return keysView(c, form, error)
          throw error
        }
      }),
      FORM_POST,
    )
    .post(
      `${KEYS_PATH}/:id/revoke`,
      signedIn(async (c) => {
        await revokeKey(c.deps, c.workspaceId, c.params.id!)
        return redirect(`${c.viewer.base}/settings/api-keys?done=revoked`)
      }),
      FORM_POST,
    )
}
