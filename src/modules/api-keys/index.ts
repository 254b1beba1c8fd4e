/** API-key routes: list, create (the full key shown once), get and revoke. */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { parsePageQuery, sendPage } from '../../lib/pagination'
import { problems, AUTH_ERRORS, BODY_ERRORS } from '../../errors/openapi'
import { API_PREFIX } from '../../lib/api-prefix'
import type { AuthPlugin } from '../../plugins/auth'
import { answerWrite } from '../../plugins/idempotency'
import { actingFor } from '../../plugins/request-context'
import { ApiKeyModel, MAX_KEY_RATE_LIMIT } from './model'
import { createKeyFor, getKey, keyInputOf, listKeysPage, revokeKey, serializeKey } from './service'

/** The /api-keys routes. */
export const apiKeysModule = (deps: AppDeps, auth: AuthPlugin) =>
  new Elysia({ prefix: '/api-keys', tags: ['API keys'] })
    .use(auth)
    .get(
      '',
      async ({ query, auth, request, set }) => {
        return sendPage(request.url, set, await listKeysPage(deps, auth.workspaceId, parsePageQuery(query)))
      },
      {
        scope: 'keys:manage',
        query: ApiKeyModel.listQuery,
        response: { 200: ApiKeyModel.list, ...problems(...AUTH_ERRORS, 422) },
        detail: {
          operationId: 'listApiKeys',
          summary: 'List API keys',
          description:
            "The workspace's keys, revoked and expired ones included, newest first. Keys show only their prefix; the full key and its hash are never returned. " +
            'Scope `keys:manage`.',
        },
      },
    )
    .post(
      '',
      ({ body, auth, request, set }) => {
        const input = keyInputOf(body)
        return answerWrite(
          { request, set },
          deps,
          (d) => createKeyFor(d, { key: auth.key, defaultRateLimit: deps.config.rateLimit.capacity }, input),
          ({ record, key }) => ({
            status: 201,
            headers: { location: `${API_PREFIX}/api-keys/${record.id}`, 'cache-control': 'no-store' },
            body: { ...serializeKey(record), key },
          }),
        )
      },
      {
        scope: 'keys:manage',
        body: ApiKeyModel.createBody,
        response: { 201: ApiKeyModel.created, ...problems(...BODY_ERRORS, 409) },
        detail: {
          operationId: 'createApiKey',
          summary: 'Create an API key',
          description:
            'Mints a secret (`ask_sk_…`) or publishable (`ask_pk_…`) key. The full key is in `key` in this response only; askad keeps just its SHA-256. ' +
            "A key can grant only scopes it holds itself; a secret key gets the creating key's scopes unless `scopes` is given. " +
            'Publishable keys carry only `leads:capture` and need at least one allowed origin. The new key cannot out-rate or outlive the creating key: ' +
            `\`rate_limit\` may not exceed the creator's (its own, else the instance default; at most ${MAX_KEY_RATE_LIMIT} in any case), and without \`rate_limit\` ` +
            "it inherits the creator's when that is below the instance default; `expires_at` may not be after the creator's expiry, and without " +
            '`expires_at` a key minted by an expiring key expires with it. Each is a 422 naming the limit. Scope `keys:manage`.',
        },
      },
    )
    .get('/:id', async ({ params, auth }) => serializeKey(await getKey(deps, auth.workspaceId, params.id)), {
      scope: 'keys:manage',
      params: ApiKeyModel.params,
      response: { 200: ApiKeyModel.apiKey, ...problems(...AUTH_ERRORS, 404) },
      detail: { operationId: 'getApiKey', summary: 'Get an API key', description: 'One key, shown by its prefix only. Scope `keys:manage`.' },
    })
    .delete('/:id', async ({ params, auth, request }) => serializeKey(await revokeKey(actingFor(deps, request), auth.workspaceId, params.id)), {
      scope: 'keys:manage',
      params: ApiKeyModel.params,
      response: { 200: ApiKeyModel.apiKey, ...problems(...AUTH_ERRORS, 404) },
      detail: {
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key',
        description:
          'Revokes the key at once: its next request gets 401. Answers the revoked key (with `revoked_at`); revoking it again changes nothing and answers the same. ' +
          'A key may revoke itself. The row stays, so listings keep showing what existed. Scope `keys:manage`.',
      },
    })
