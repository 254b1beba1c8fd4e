/** Sources: minting a URL (shown once), hash-only tokens, sealed tool secrets, rotation, revocation, authentication. */
import type { ApiKey, AuthFailure } from '../../db/api-key'
import type { AppDeps, ClockDeps, ReadDeps, ServiceDeps } from '../../deps'
import { ApiError, invalid } from '../../errors'
import { API_PREFIX } from '../../lib/api-prefix'
import { iso } from '../../lib/clock'
import { newId } from '../../lib/ids'
import { generateSourceToken, hashKey, isSourceToken, sourceTokenPrefix } from '../../lib/keys'
import { buildPage, type PageRequest } from '../../lib/pagination'
import { createSecretBox, type SecretBox, SecretKeyError } from '../../lib/secret-box'
import { singleLine } from '../../lib/text'
import { MAX_KEY_RATE_LIMIT } from '../api-keys/model'
import type { SourceModel } from './model'
import { PRESETS } from './presets'
import type { PresetName, SourceSecrets } from './presets/types'
import { type Source, sourcesStore, type SourceStoreDeps, type TokenRecord } from './store'

export type { Source } from './store'

/** The only scope a source's token carries: it can push leads and nothing else. */
export const SOURCE_SCOPE = 'leads:write'

/** last_used_at is written at most this often per source, so deliveries do not each add a write. */
const LAST_USED_RESOLUTION_MS = 60_000

/** What `POST /sources` (and the dashboard's form) asks for. */
export interface CreateSourceInput {
  name: string
  preset: PresetName
  signingSecret?: string | null
  verifyToken?: string | null
  accessToken?: string | null
  rateLimit?: number | null
}

/** A source with its URL: returned by creation and rotation only, never stored. */
export interface MintedSource {
  record: Source
  url: string
}

function box(deps: Pick<AppDeps, 'config'>): SecretBox {
  return createSecretBox(deps.config.secretKey)
}

/** The URL of a token on an origin (`https://leads.example.com`). */
export function sourceUrl(origin: string, token: string): string {
  return `${origin}${API_PREFIX}/in/${token}`
}

function newToken(): { token: string; record: TokenRecord } {
  const token = generateSourceToken()
  return { token, record: { prefix: sourceTokenPrefix(token), hash: hashKey(token) } }
}

/** A blank secret is no secret: it would make every signature check pass or fail for nothing. */
function secretOf(value: string | null | undefined, path: string): string | null {
  if (value == null) return null
  if (!value.trim()) throw invalid(path, 'must not be blank; leave it out instead')
  return value
}

/** 422 with the field's path when the preset needs a secret that is missing, or takes none that was given. */
function checkSecrets(input: CreateSourceInput): void {
  const preset = PRESETS[input.preset]
  const { signingSecret, verifyToken, accessToken } = input
  if (preset.signingSecret === 'required' && signingSecret == null)
    throw invalid('/signing_secret', `the ${preset.title} preset needs the tool's signing secret`)
  if (preset.signingSecret === 'none' && signingSecret != null) throw invalid('/signing_secret', `the ${preset.title} preset takes no signing secret`)
  if (preset.verifyToken && verifyToken == null) throw invalid('/verify_token', `the ${preset.title} preset needs a verify token`)
  if (!preset.verifyToken && verifyToken != null) throw invalid('/verify_token', `the ${preset.title} preset takes no verify token`)
  if (!preset.mapFetched && accessToken != null) throw invalid('/access_token', `the ${preset.title} preset takes no access token`)
}

/**
 * The source's rate limit: 1 to MAX_KEY_RATE_LIMIT and never above `ceiling`, its creator's own limit
 * (a key's `rate_limit` or the instance default): a source cannot out-rate who made it. None asked for is
 * the instance default (null), or the creator's own when that is lower, as a key a key mints inherits it.
 */
function checkRateLimit(requested: number | null | undefined, ceiling: number, instanceDefault: number): number | null {
  if (requested == null) return ceiling < instanceDefault ? ceiling : null
  if (!Number.isInteger(requested) || requested < 1 || requested > MAX_KEY_RATE_LIMIT) {
    throw invalid('/rate_limit', `must be a whole number of requests per window from 1 to ${MAX_KEY_RATE_LIMIT}`)
  }
  if (requested > ceiling) throw invalid('/rate_limit', `must not exceed the creating key's own limit of ${ceiling} requests per window`)
  return requested
}

/** What `POST /sources` asks for, as createSource takes it. */
export function sourceInputOf(body: SourceModel.createBody): CreateSourceInput {
  return {
    name: body.name,
    preset: body.preset,
    signingSecret: body.signing_secret,
    verifyToken: body.verify_token,
    accessToken: body.access_token,
    rateLimit: body.rate_limit,
  }
}

/**
 * Mints a source: checks the preset's needs, seals the tool's secrets and stores the token's hash.
 * `origin` is the public origin the URL is built on; `rateCeiling` the creator's own rate limit.
 */
export async function createSource(
  deps: ServiceDeps & Pick<AppDeps, 'config'>,
  workspaceId: string,
  input: CreateSourceInput,
  origin: string,
  rateCeiling: number,
): Promise<MintedSource> {
  const name = singleLine(input.name.trim(), '/name')
  if (!name) throw invalid('/name', 'must not be blank')
  const checked = {
    ...input,
    signingSecret: secretOf(input.signingSecret, '/signing_secret'),
    verifyToken: secretOf(input.verifyToken, '/verify_token'),
    accessToken: secretOf(input.accessToken, '/access_token'),
  }
  checkSecrets(checked)
  const rateLimit = checkRateLimit(input.rateLimit, rateCeiling, deps.config.rateLimit.capacity)
  const sealer = box(deps)
  const seal = (value: string | null) => (value === null ? null : sealer.seal(value))
  const { token, record: tokenRecord } = newToken()
  const record: Source = {
    id: newId(),
    workspaceId,
    name,
    preset: input.preset,
    ...tokenRecord,
    signingSecret: seal(checked.signingSecret),
    verifyToken: seal(checked.verifyToken),
    accessToken: seal(checked.accessToken),
    rateLimit,
    createdAt: deps.clock.now(),
    lastUsedAt: null,
    rotatedAt: null,
    revokedAt: null,
  }
  return sourcesStore(deps).insert({ record, url: sourceUrl(origin, token) })
}

/** Gives a source a new URL; the old one is refused from the commit on. 409 for a revoked source. */
export function rotateSource(deps: ServiceDeps, workspaceId: string, id: string, origin: string): Promise<MintedSource> {
  const { token, record } = newToken()
  return sourcesStore(deps).rotate(workspaceId, id, record, deps.clock.now(), (row) => ({ record: row, url: sourceUrl(origin, token) }))
}

/** Revokes a source of the workspace: its URL is refused at once; idempotent. */
export function revokeSource(deps: ServiceDeps, workspaceId: string, id: string): Promise<Source> {
  return sourcesStore(deps).revoke(workspaceId, id, deps.clock.now())
}

/** A source of the workspace, else 404. */
export function getSource(deps: ReadDeps, workspaceId: string, id: string): Promise<Source> {
  return sourcesStore(deps).get(workspaceId, id)
}

/** Every source of a workspace, newest first (the dashboard shows them all). */
export function listSources(deps: ReadDeps, workspaceId: string): Promise<Source[]> {
  return sourcesStore(deps).list(workspaceId)
}

/** One page of a workspace's sources, newest first. */
export async function listSourcesPage(deps: ReadDeps, workspaceId: string, req: PageRequest) {
  const { rows, total, hasMore } = await sourcesStore(deps).page(workspaceId, req)
  return buildPage(
    req,
    rows.map(({ seq, row }) => ({ seq, item: serializeSource(row) })),
    total,
    hasMore,
  )
}

/**
 * The tool's secrets of a source in plaintext, for its preset; 503 when ASKAD_SECRET_KEY does not open them (the
 * operator's to fix, and the tool retries meanwhile).
 */
export function openSecrets(deps: Pick<AppDeps, 'config'>, source: Source): SourceSecrets & { accessToken: string | null } {
  const opener = box(deps)
  const open = (value: string | null) => (value === null ? null : opener.open(value))
  try {
    return { signingSecret: open(source.signingSecret), verifyToken: open(source.verifyToken), accessToken: open(source.accessToken) }
  } catch (error) {
    if (!(error instanceof SecretKeyError)) throw error
    throw new ApiError(
      'unavailable',
      "This source's secrets cannot be decrypted with the server's ASKAD_SECRET_KEY; the operator must set the key that encrypted them.",
    )
  }
}

/**
 * A source as the gate and the rate limits see it: a key that holds `leads:write` only, whose id is
 * the source's (its own rate-limit bucket and Idempotency-Key namespace) and that never expires.
 */
function asKey(source: Source): ApiKey {
  return {
    id: source.id,
    workspaceId: source.workspaceId,
    kind: 'secret',
    name: source.name,
    prefix: source.prefix,
    hash: source.hash,
    scopes: [SOURCE_SCOPE],
    allowedOrigins: [],
    rateLimit: source.rateLimit,
    createdByOperator: null,
    createdAt: source.createdAt,
    lastUsedAt: source.lastUsedAt,
    expiresAt: null,
    revokedAt: source.revokedAt,
  }
}

/** Looks a token from a source URL up by hash; malformed tokens never reach the database. */
export async function authenticateSource(deps: SourceStoreDeps & ClockDeps, token: string): Promise<{ key: ApiKey } | { failure: AuthFailure }> {
  if (!token) return { failure: 'missing' }
  if (!isSourceToken(token)) return { failure: 'malformed' }
  const store = sourcesStore(deps)
  const source = await store.byHash(hashKey(token))
  if (!source) return { failure: 'unknown' }
  const now = deps.clock.now()
  if (source.revokedAt !== null && source.revokedAt <= now) return { failure: 'revoked' }
  if (!source.lastUsedAt || now - source.lastUsedAt >= LAST_USED_RESOLUTION_MS) {
    await store.touch(source.id, now)
    source.lastUsedAt = now
  }
  return { key: asKey(source) }
}

/** The public shape of a source: never its token, URL, hash or secrets. */
export function serializeSource(s: Source): SourceModel.source {
  return {
    id: s.id,
    object: 'source' as const,
    name: s.name,
    preset: s.preset,
    prefix: `${s.prefix}…`,
    has_signing_secret: s.signingSecret !== null,
    has_verify_token: s.verifyToken !== null,
    has_access_token: s.accessToken !== null,
    rate_limit: s.rateLimit,
    created_at: iso(s.createdAt)!,
    last_used_at: iso(s.lastUsedAt),
    rotated_at: iso(s.rotatedAt),
    revoked_at: iso(s.revokedAt),
  }
}
