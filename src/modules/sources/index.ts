/** Source routes: manage sources (the URL shown once), and the source URL itself, `/in/{token}`, that tools post to. */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import { AUTH_ERRORS, BODY_ERRORS, problems } from '../../errors/openapi'
import { API_PREFIX } from '../../lib/api-prefix'
import { requestPublicOrigin } from '../../lib/client-ip'
import { parsePageQuery, sendPage } from '../../lib/pagination'
import type { AuthPlugin } from '../../plugins/auth'
import { rawParser } from '../../plugins/body'
import { answerWrite, idempotentReplay } from '../../plugins/idempotency'
import { actingFor } from '../../plugins/request-context'
import { RAW_PARSER } from '../../plugins/route-table'
import { MAX_KEY_RATE_LIMIT } from '../api-keys/model'
import { decide, storedAnswer, storeLeads } from './inbound'
import { SourceModel } from './model'
import { PRESETS } from './presets'
import { PRESET_NAMES, type PresetName } from './presets/types'
import { createSource, getSource, listSourcesPage, revokeSource, rotateSource, serializeSource, sourceInputOf, type MintedSource } from './service'

type Server = Parameters<typeof requestPublicOrigin>[1]

const presetList = (take: (p: (typeof PRESETS)[PresetName]) => boolean) =>
  PRESET_NAMES.filter((name) => take(PRESETS[name]))
    .map((name) => `\`${name}\``)
    .join(', ')

/** Which preset needs which secret, from the presets themselves, for the OpenAPI text. */
const SECRET_RULES =
  `\`signing_secret\` is required for ${presetList((p) => p.signingSecret === 'required')} and optional for ` +
  `${presetList((p) => p.signingSecret === 'optional')} (signatures are checked once it is set; the flat-field tools send it back in the ` +
  `\`X-Askad-Secret\` header); \`verify_token\` is required for ${presetList((p) => p.verifyToken)} and taken by no other; ` +
  `\`access_token\` (a page access token) is optional for ${presetList((p) => p.mapFetched !== undefined)} only.`

/** The answer carrying a source's URL: never cached, and never kept whole in an Idempotency-Key replay (the token is redacted). */
function minted(status: 200 | 201, { record, url }: MintedSource) {
  return {
    status,
    headers: { location: `${API_PREFIX}/sources/${record.id}`, 'cache-control': 'no-store' },
    body: { ...serializeSource(record), url },
  }
}

/**
 * A preset's verbatim reply (Facebook's challenge echo). Elysia sends a Response as it is; the route's schema
 * describes the answers it makes itself, as `answerWrite`'s replays do. The body echoes the query, so a browser
 * must never read it as anything but its declared type.
 */
function verbatim(reply: { status: number; contentType: string; body: string }): SourceModel.accepted {
  const headers = { 'content-type': reply.contentType, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' }
  return new Response(reply.body, { status: reply.status, headers }) as unknown as SourceModel.accepted
}

/** The /sources routes (managing sources) and /in/{token} (the URLs tools send to). */
export const sourcesModule = (deps: AppDeps, auth: AuthPlugin) => {
  const originOf = (request: Request, server: Server) => requestPublicOrigin(request, server, deps.config.trustedProxies)

  /** The request as the sender made it: the URL it called (the public origin behind a trusted proxy), its headers and bytes. */
  const senderRequest = (request: Request, server: Server, body: Uint8Array | undefined) => {
    const own = new URL(request.url)
    return {
      method: request.method as 'GET' | 'POST',
      url: `${originOf(request, server)}${own.pathname}${own.search}`,
      headers: request.headers,
      body: body ?? new Uint8Array(),
    }
  }

  const manage = new Elysia({ prefix: '/sources', tags: ['Sources'] })
    .use(auth)
    .get('', async ({ query, auth, request, set }) => sendPage(request.url, set, await listSourcesPage(deps, auth.workspaceId, parsePageQuery(query))), {
      scope: 'keys:manage',
      query: SourceModel.listQuery,
      response: { 200: SourceModel.list, ...problems(...AUTH_ERRORS, 422) },
      detail: {
        operationId: 'listSources',
        summary: 'List sources',
        description:
          "The workspace's sources, revoked ones included, newest first. A source shows the prefix of its token only; its URL, token hash and " +
          'secrets are never returned. Scope `keys:manage`.',
      },
    })
    .post(
      '',
      ({ body, auth, request, set, server }) => {
        const input = sourceInputOf(body)
        const ceiling = auth.key.rateLimit ?? deps.config.rateLimit.capacity
        return answerWrite(
          { request, set },
          deps,
          (d) => createSource(d, auth.workspaceId, input, originOf(request, server), ceiling),
          (created) => minted(201, created),
        )
      },
      {
        scope: 'keys:manage',
        body: SourceModel.createBody,
        response: { 201: SourceModel.created, ...problems(...BODY_ERRORS, 409) },
        detail: {
          operationId: 'createSource',
          summary: 'Create a source',
          description:
            'A source is a URL of its own, `/api/v1/in/src_…`, for a tool that cannot set an Authorization header or send our JSON (Zapier, ' +
            'Make, n8n, HubSpot, Typeform, Facebook Lead Ads). Its token (about 178 random bits) authenticates with scope `leads:write` ' +
            'only; `url` is in this response only (askad keeps just its SHA-256), built on the origin this request was made to, or the one a ' +
            "trusted proxy (`ASKAD_TRUSTED_PROXIES`) forwarded in X-Forwarded-Proto/-Host. The preset reads the tool's payload and checks its " +
            `signature: ${SECRET_RULES} A missing or misplaced one is a 422 naming the field. ` +
            'Secrets are encrypted at rest with `ASKAD_SECRET_KEY` when it is set and ' +
            `never returned. \`rate_limit\`: 1 to ${MAX_KEY_RATE_LIMIT}, not above the creating key's own; left out, the instance default or the ` +
            "creating key's own limit when that is lower. Scope `keys:manage` (it mints a credential).",
        },
      },
    )
    .get('/:id', async ({ params, auth }) => serializeSource(await getSource(deps, auth.workspaceId, params.id)), {
      scope: 'keys:manage',
      params: SourceModel.params,
      response: { 200: SourceModel.source, ...problems(...AUTH_ERRORS, 404) },
      detail: { operationId: 'getSource', summary: 'Get a source', description: 'One source, shown by the prefix of its token only. Scope `keys:manage`.' },
    })
    .post(
      '/:id/rotate',
      ({ params, auth, request, set, server }) =>
        answerWrite(
          { request, set },
          deps,
          (d) => rotateSource(d, auth.workspaceId, params.id, originOf(request, server)),
          (rotated) => minted(200, rotated),
        ),
      {
        scope: 'keys:manage',
        params: SourceModel.params,
        response: { 200: SourceModel.created, ...problems(...AUTH_ERRORS, 404, 409) },
        detail: {
          operationId: 'rotateSource',
          summary: "Replace a source's URL",
          description:
            'Gives the source a new token and answers its new `url` (this once, as at creation); the old URL is refused (401) from this ' +
            'answer on, so paste the new one into the tool right away. Name, preset, secrets and rate limit stay. A revoked source cannot be ' +
            'rotated (409). Scope `keys:manage`.',
        },
      },
    )
    .delete('/:id', async ({ params, auth, request }) => serializeSource(await revokeSource(actingFor(deps, request), auth.workspaceId, params.id)), {
      scope: 'keys:manage',
      params: SourceModel.params,
      response: { 200: SourceModel.source, ...problems(...AUTH_ERRORS, 404) },
      detail: {
        operationId: 'revokeSource',
        summary: 'Revoke a source',
        description:
          "Revokes the source's URL at once: its next request gets 401. Answers the revoked source (with `revoked_at`); revoking it again " +
          'changes nothing and answers the same. The row stays, so listings keep showing what existed. Scope `keys:manage`.',
      },
    })

  const inbound = new Elysia({ prefix: '/in', tags: ['Sources'] })
    .use(auth)
    .use(rawParser)
    .post(
      '/:token',
      async ({ auth, request, set, server, body }) => {
        const { outcome } = await decide(deps, auth.workspaceId, auth.key.id, senderRequest(request, server, body as Uint8Array | undefined))
        if (outcome.kind === 'reply') return verbatim(outcome)
        // Only now, the signature checked: a stored answer is never replayed to a sender who fails it.
        const replayed = await idempotentReplay(request)
        if (replayed) return replayed as unknown as SourceModel.accepted
        if (outcome.kind === 'nothing') return { status: 'nothing_stored' as const, leads: [], detail: outcome.detail }
        return answerWrite(
          { request, set },
          deps,
          (d) => storeLeads(d, auth.workspaceId, outcome.leads),
          (imported) => ({
            status: 201,
            headers: imported.length === 1 ? { location: `${API_PREFIX}/leads/${imported[0]!.leadId}` } : undefined,
            body: storedAnswer(imported),
          }),
        )
      },
      {
        scope: 'leads:write',
        params: SourceModel.tokenParams,
        parse: RAW_PARSER,
        response: { 200: SourceModel.accepted, 201: SourceModel.accepted, ...problems(...BODY_ERRORS) },
        detail: {
          operationId: 'sendSourceLeads',
          summary: 'Send leads to a source',
          description:
            "A tool's delivery, authenticated by the token in the URL alone (an Authorization header is not looked at): scope `leads:write` " +
            'and nothing else, rate-limited per source like a key (its own bucket, X-RateLimit-* headers); unknown or revoked tokens count as ' +
            'failed authentications of the client address, exactly like a bad key. The body is taken as sent (JSON, form-urlencoded or ' +
            "multipart, up to 1 MiB) and read by the source's preset, which also checks the tool's signature over these bytes and the URL " +
            'as the tool called it (401 when it does not match). Each lead is stored as `POST /leads/inbound` stores one (channel `inbound`, ' +
            '`source` the preset name unless the payload names one, unknown fields in metadata, `lead.created` emitted), all of a delivery ' +
            'in one transaction: **201** with the leads. A lead that fails validation is a 422 and nothing is stored. A delivery with no lead ' +
            '(or Facebook ids without an access token to fetch them) is acknowledged with **200** `nothing_stored`. Idempotency-Key is honoured, ' +
            'per source, once the signature or secret has been checked (a stored answer is never replayed to a sender who fails it). ' +
            'A request from a browser page (an `Origin` header) is 403: the URL is a credential, not for a page anyone can read.',
        },
      },
    )
    .get(
      '/:token',
      async ({ auth, request, server, set }) => {
        const { outcome } = await decide(deps, auth.workspaceId, auth.key.id, senderRequest(request, server, undefined))
        if (outcome.kind === 'reply') return verbatim(outcome)
        set.status = 200
        return { status: 'nothing_stored' as const, leads: [], detail: outcome.kind === 'nothing' ? outcome.detail : 'A GET carries no lead.' }
      },
      {
        scope: 'leads:write',
        params: SourceModel.tokenParams,
        response: { 200: SourceModel.accepted, ...problems(...AUTH_ERRORS, 400, 405, 422) },
        detail: {
          operationId: 'checkSource',
          summary: "Answer a tool's check of a source URL",
          description:
            "For tools that check a URL before sending to it: Facebook's subscription handshake (`hub.mode=subscribe`, `hub.verify_token`, " +
            '`hub.challenge`) is answered with the challenge when the verify token matches (else 403). Presets without a check answer 405. ' +
            'Authenticated and rate-limited like a POST to the source.',
        },
      },
    )

  return new Elysia().use(manage).use(inbound)
}
