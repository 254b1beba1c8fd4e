/** The API keys page: list, create (shown once) and revoke. */
import { Elysia } from 'elysia'
import { formParser } from '../../plugins/body'
import { ApiError } from '../../errors'
import { checkModel } from '../../lib/check-model'
import { ApiKeyModel } from '../../modules/api-keys/model'
import { createKeyFor, keyInputOf, revokeKey } from '../../modules/api-keys/service'
import { KEYS_PATH } from '../layout'
import { createdKeyPage, keysPage, type KeyForm, type KeyLimits } from '../pages/api-keys'
import { type DashboardKit, field, fields, FORM_POST, HIDDEN, redirect, type SignedIn, utcTime } from '../kit'

/**
 * What an operator creates keys within: their role's scopes, and no rate limit or expiry beyond the
 * instance's. The keys are marked as theirs, so they are revoked when the operator leaves the workspace.
 */
function operatorBounds(c: SignedIn) {
  return { scopes: [...c.scopes], workspaceId: c.workspaceId, rateLimit: null, expiresAt: null, createdByOperator: c.active.operator?.id ?? null }
}

/** The key pages (keys:manage); creating and revoking act with the session's own rights, like the API. */
export const keyRoutes = (kit: DashboardKit) => {
  const { deps, clock, signedIn, needs, page, publicOrigin } = kit
  const keysAction = (handler: (c: SignedIn) => Response | Promise<Response>) => signedIn(needs('keys:manage', handler))

  /** The rate limit a key made by this session gets by default and may not exceed, and the window it counts in. */
  const limits = (c: SignedIn): KeyLimits => {
    const creator = c.active.key ?? operatorBounds(c)
    return {
      ceiling: creator.rateLimit ?? deps.config.rateLimit.capacity,
      instanceDefault: deps.config.rateLimit.capacity,
      windowSeconds: Math.round(deps.config.rateLimit.windowMs / 1000),
      expiresAt: creator.expiresAt,
    }
  }
  const keysView = async (c: SignedIn, form?: KeyForm, error?: ApiError) =>
    page(
      c,
      'API keys',
      await keysPage(deps, c.viewer, clock.now(), limits(c), form),
      error?.status ?? 200,
      error ? [{ kind: 'error', text: error.detail }] : c.notices,
    )
  return new Elysia()
    .use(formParser)
    .get(
      KEYS_PATH,
      keysAction((c) => keysView(c)),
      HIDDEN,
    )
    .post(
      KEYS_PATH,
      keysAction(async (c) => {
        const form: KeyForm = {
          kind: field(c.body, 'kind') ?? 'secret',
          name: field(c.body, 'name') ?? '',
          scopes: fields(c.body, 'scopes'),
          origins: field(c.body, 'allowed_origins') ?? '',
          rateLimit: (field(c.body, 'rate_limit') ?? '').trim(),
          expires: (field(c.body, 'expires_at') ?? '').trim(),
        }
        try {
          // The API's own model first, so the form accepts exactly what POST /api-keys does.
          const publishable = form.kind === 'publishable'
          const body = checkModel(ApiKeyModel.createBody, {
            kind: form.kind,
            name: form.name,
            ...(publishable || form.scopes.length === 0 ? {} : { scopes: form.scopes }),
            ...(publishable ? { allowed_origins: form.origins.split(/[\s,]+/).filter(Boolean) } : {}),
            // Not a whole number: kept as typed, so the model's check names the field.
            ...(form.rateLimit ? { rate_limit: /^\d{1,9}$/.test(form.rateLimit) ? Number(form.rateLimit) : form.rateLimit } : {}),
            ...(form.expires ? { expires_at: utcTime(form.expires, '/expires_at') } : {}),
          })
          const { record, key } = await createKeyFor(
            c.deps,
            { key: c.active.key ?? operatorBounds(c), defaultRateLimit: deps.config.rateLimit.capacity },
            keyInputOf(body),
          )
          return page(c, 'API keys', createdKeyPage(c.viewer.base, record, key, publicOrigin(c)), 201, [])
        } catch (error) {
          if (error instanceof ApiError) return keysView(c, form, error)
          throw error
        }
      }),
      FORM_POST,
    )
    .post(
      `${KEYS_PATH}/:id/revoke`,
      keysAction(async (c) => {
        await revokeKey(c.deps, c.workspaceId, c.params.id!)
        return redirect(`${c.viewer.base}/settings/api-keys?done=revoked`)
      }),
      FORM_POST,
    )
}
