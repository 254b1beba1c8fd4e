/** Schemas of the API-key endpoints, each paired with its type. */
import { t } from 'elysia'
import { apiKeys } from '../../db/schema'
import { component, literalUnion, nullableTime } from '../../lib/model-fields'
import { pageQuery, pageSchema } from '../../lib/pagination'
import { SCOPES } from '../../lib/scopes'

/** The most requests per window any key may be given: above it a limit protects nothing. */
export const MAX_KEY_RATE_LIMIT = 100_000

const keyFields = {
  id: t.String({ format: 'uuid' }),
  object: t.Literal('api_key'),
  kind: literalUnion(apiKeys.kind.enumValues),
  name: t.String(),
  prefix: t.String({ description: 'The first characters of the key, e.g. `ask_sk_3fA9…`: enough to recognise it, never enough to use it.' }),
  scopes: t.Array(t.String()),
  allowed_origins: t.Array(t.String(), { description: 'Origins a publishable key may be used from.' }),
  rate_limit: t.Union([t.Integer(), t.Null()], { description: 'Requests per window for this key; null means the instance default.' }),
  created_at: t.String({ format: 'date-time' }),
  last_used_at: nullableTime('Last successful authentication (to the minute).'),
  expires_at: nullableTime('From this time on the key is refused.'),
  revoked_at: nullableTime('From this time on the key is refused.'),
}

export namespace ApiKeyModel {
  export const apiKey = component('ApiKey', t.Object(keyFields, { description: 'An API key as listings show it: never the key itself or its hash.' }))
  export type apiKey = typeof apiKey.static

  export const created = component(
    'ApiKeyCreated',
    t.Object(
      { ...keyFields, key: t.String({ description: 'The full key. Shown in this response only: store it now, it cannot be retrieved again.' }) },
      { description: 'The new key, including the full key this one time.' },
    ),
  )
  export type created = typeof created.static

  export const createBody = t.Object(
    {
      kind: literalUnion(apiKeys.kind.enumValues, {
        description: '`secret` (`ask_sk_…`, server to server) or `publishable` (`ask_pk_…`, safe in a web page, scope `leads:capture` only).',
      }),
      name: t.Optional(t.String({ maxLength: 200, description: 'A label for humans.' })),
      scopes: t.Optional(
        t.Array(t.String(), {
          description:
            `Any of ${SCOPES.join(', ')}. A key can grant only scopes it holds itself; by default a secret key gets all scopes of the key creating it ` +
            'and a publishable key gets `leads:capture`.',
        }),
      ),
      allowed_origins: t.Optional(
        t.Array(t.String(), { description: 'Publishable keys only, 1 to 100: origins such as `https://www.example.com` the key may be used from.' }),
      ),
      rate_limit: t.Optional(
        t.Union([t.Integer({ minimum: 1 }), t.Null()], {
          description:
            `Requests per window for this key, 1 to ${MAX_KEY_RATE_LIMIT} and never above the creating key's own limit (its rate_limit, else the ` +
            "instance default). Default: the creator's limit when that is below the instance default, else the instance setting.",
        }),
      ),
      expires_at: t.Optional(
        t.Union([t.String(), t.Null()], {
          description:
            "RFC 3339 time in the future after which the key is refused; never after the creating key's expiry. Default: the creator's expiry (none if it has none).",
        }),
      ),
    },
    {
      examples: [
        { kind: 'secret', name: 'CRM sync', scopes: ['leads:write', 'contacts:read'] },
        { kind: 'publishable', name: 'Landing page form', allowed_origins: ['https://www.example.com'] },
      ],
    },
  )
  export type createBody = typeof createBody.static

  export const params = t.Object({ id: t.String({ description: 'API key id.' }) })

  export const listQuery = t.Object(pageQuery)
  export type listQuery = typeof listQuery.static

  export const list = pageSchema(apiKey)
}
