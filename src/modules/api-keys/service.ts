/** API keys: minting (shown once), hash-only storage, listing by prefix, revocation, authentication. */
import type { ClockDeps, ReadDeps, ServiceDeps } from '../../deps'
import { MAX_KEY_RATE_LIMIT, type ApiKeyModel } from './model'
import { iso, parseTimestamp } from '../../lib/clock'
import { ApiError, invalid } from '../../errors'
import { newId } from '../../lib/ids'
import { buildPage, type PageRequest } from '../../lib/pagination'
import { generateKey, hashKey, keyPrefix, parseKey, type KeyKind } from '../../lib/keys'
import { singleLine } from '../../lib/text'
import { PUBLISHABLE_SCOPES, SCOPES, isScope, type Scope } from '../../lib/scopes'
import { apiKeysStore, type KeyStoreDeps } from './store'

import type { ApiKey, AuthFailure } from '../../db/api-key'

export type { ApiKey, AuthFailure } from '../../db/api-key'

export interface CreateKeyInput {
  workspaceId: string
  kind: KeyKind
  name?: string
  scopes?: string[]
  allowedOrigins?: string[]
  rateLimit?: number | null
  expiresAt?: number | null
  /** The operator the key is minted for, directly or through a key of theirs. */
  createdByOperator?: string | null
}

export interface CreatedKey {
  record: ApiKey
  /** The full key: returned by creation only, never stored. */
  key: string
}

/** last_used_at is written at most this often per key, so reads do not turn into writes. */
const LAST_USED_RESOLUTION_MS = 60_000

/** Normalises an allowed origin to scheme://host[:port], rejecting anything else. */
function normaliseOrigin(value: string, path: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalid(path, `'${value}' is not an origin like https://www.example.com`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(path, `'${value}' must use http or https`)
  if (url.pathname !== '/' || url.search || url.hash || url.username) throw invalid(path, `'${value}' must be an origin only (no path, query or credentials)`)
  return url.origin
}

function checkRateLimit(rateLimit: number | null | undefined): void {
  if (rateLimit != null && (!Number.isInteger(rateLimit) || rateLimit < 1 || rateLimit > MAX_KEY_RATE_LIMIT)) {
    throw invalid('/rate_limit', `must be a whole number of requests per window from 1 to ${MAX_KEY_RATE_LIMIT}`)
  }
}

/** Origins one publishable key may list: every site of a client fits, a capture check stays cheap. */
export const MAX_ALLOWED_ORIGINS = 100

function checkInput(input: CreateKeyInput): { scopes: Scope[]; allowedOrigins: string[] } {
  const scopes = input.scopes ?? (input.kind === 'publishable' ? PUBLISHABLE_SCOPES : [...SCOPES])
  scopes.forEach((s, i) => {
    if (!isScope(s)) throw invalid(`/scopes/${i}`, `unknown scope '${s}'; valid scopes: ${SCOPES.join(', ')}`)
  })
  if (scopes.length === 0) throw invalid('/scopes', 'a key needs at least one scope')
  if (input.kind === 'publishable' && scopes.some((s) => s !== 'leads:capture')) {
    throw invalid('/scopes', "publishable keys can only have the scope 'leads:capture'")
  }
  if ((input.allowedOrigins?.length ?? 0) > MAX_ALLOWED_ORIGINS) {
    throw invalid('/allowed_origins', `has ${input.allowedOrigins!.length} origins; a key may list at most ${MAX_ALLOWED_ORIGINS}`)
  }
  const allowedOrigins = (input.allowedOrigins ?? []).map((o, i) => normaliseOrigin(o, `/allowed_origins/${i}`))
  if (input.kind === 'publishable' && allowedOrigins.length === 0) {
    throw invalid('/allowed_origins', 'a publishable key needs at least one allowed origin')
  }
  if (input.kind === 'secret' && allowedOrigins.length > 0) {
    throw invalid('/allowed_origins', 'allowed origins apply to publishable keys only')
  }
  checkRateLimit(input.rateLimit)
  return { scopes: [...new Set(scopes)] as Scope[], allowedOrigins: [...new Set(allowedOrigins)] }
}

/**
 * A new key record (and the key in full) from checked input, not yet stored: `createKey` stores it
 * alone, bootstrap together with its workspace.
 */
export function newKey(now: number, input: CreateKeyInput, presetKey?: string): CreatedKey {
  const { scopes, allowedOrigins } = checkInput(input)
  if (presetKey !== undefined && parseKey(presetKey) !== input.kind) {
    throw new ApiError('bad_request', `The given key is not a valid ${input.kind} key (wrong format or checksum); 'askad key generate' prints one.`)
  }
  const key = presetKey ?? generateKey(input.kind)
  const record: ApiKey = {
    id: newId(),
    workspaceId: input.workspaceId,
    kind: input.kind,
    name: singleLine(input.name?.trim() || (input.kind === 'secret' ? 'Secret key' : 'Publishable key'), '/name'),
    prefix: keyPrefix(key),
    hash: hashKey(key),
    scopes,
    allowedOrigins,
    rateLimit: input.rateLimit ?? null,
    createdByOperator: input.createdByOperator ?? null,
    createdAt: now,
    lastUsedAt: null,
    expiresAt: input.expiresAt ?? null,
    revokedAt: null,
  }
  return { record, key }
}

/** Mints a key (or stores the given valid one) and returns it in full, once. */
export async function createKey(deps: ClockDeps & KeyStoreDeps, input: CreateKeyInput, presetKey?: string): Promise<CreatedKey> {
  return apiKeysStore(deps).insert(newKey(deps.clock.now(), input, presetKey))
}

/** The creating key and the instance-wide rate limit its own null `rate_limit` stands for. */
export interface KeyCreator {
  /** The creating key, or what stands for an operator: their role's scopes, no limit or expiry of their own. */
  key: Pick<ApiKey, 'scopes' | 'workspaceId' | 'rateLimit' | 'expiresAt' | 'createdByOperator'>
  defaultRateLimit: number
}

/**
 * The minted key's rate limit: never above its creator's. Without one it inherits the creator's when
 * that is below the instance default (which is what null would mean), else stays null.
 */
function childRateLimit(creator: KeyCreator, requested: number | null | undefined): number | null {
  checkRateLimit(requested)
  const ceiling = creator.key.rateLimit ?? creator.defaultRateLimit
  if (requested == null) return ceiling < creator.defaultRateLimit ? ceiling : null
  if (requested > ceiling) throw invalid('/rate_limit', `must not exceed the creating key's own limit of ${ceiling} requests per window`)
  return requested
}

/** The minted key's expiry: never after its creator's; without one it expires with its creator. */
function childExpiry(creator: KeyCreator['key'], now: number, requested: number | null | undefined): number | null {
  if (requested != null && requested <= now) throw invalid('/expires_at', 'must be in the future')
  if (creator.expiresAt === null) return requested ?? null
  if (requested == null) return creator.expiresAt
  if (requested > creator.expiresAt) throw invalid('/expires_at', `must not be after the creating key's own expiry, ${iso(creator.expiresAt)}`)
  return requested
}

/** What `POST /api-keys` (and the dashboard's form, checked against the same model) asks for, as createKeyFor takes it. */
export function keyInputOf(body: ApiKeyModel.createBody): Omit<CreateKeyInput, 'workspaceId'> {
  return {
    kind: body.kind,
    name: body.name,
    scopes: body.scopes,
    allowedOrigins: body.allowed_origins,
    rateLimit: body.rate_limit,
    expiresAt: body.expires_at == null ? null : parseTimestamp(body.expires_at, '/expires_at'),
  }
}

/**
 * Mints a key on behalf of an authenticated key, which can grant only scopes it holds itself
 * (a `keys:manage`-only key cannot mint an all-powerful one), and neither a higher rate limit nor a
 * later expiry than its own. Without `scopes`, a secret key gets the creator's scopes.
 */
export async function createKeyFor(deps: ServiceDeps, creator: KeyCreator, input: Omit<CreateKeyInput, 'workspaceId'>): Promise<CreatedKey> {
  const scopes = input.scopes ?? (input.kind === 'secret' ? creator.key.scopes : undefined)
  const ungrantable = (scopes ?? PUBLISHABLE_SCOPES).filter((s) => isScope(s) && !creator.key.scopes.includes(s))
  if (ungrantable.length > 0) {
    throw new ApiError('insufficient_scope', `This API key cannot grant scopes it does not hold itself: ${ungrantable.join(', ')}.`)
  }
  const rateLimit = childRateLimit(creator, input.rateLimit)
  const expiresAt = childExpiry(creator.key, deps.clock.now(), input.expiresAt)
  // A key minted by an operator's key is theirs too: it goes when they leave the workspace.
  const createdByOperator = creator.key.createdByOperator
  return createKey(deps, { ...input, scopes, rateLimit, expiresAt, createdByOperator, workspaceId: creator.key.workspaceId })
}

/** One page of a workspace's keys, newest first. */
export async function listKeysPage(deps: ReadDeps, workspaceId: string, req: PageRequest) {
  const { rows, total, hasMore } = await apiKeysStore(deps).page(workspaceId, req)
  return buildPage(
    req,
    rows.map(({ seq, row }) => ({ seq, item: serializeKey(row) })),
    total,
    hasMore,
  )
}

/** A key of the workspace, else 404 (also for another workspace's id). */
export function getKey(deps: ReadDeps, workspaceId: string, id: string): Promise<ApiKey> {
  return apiKeysStore(deps).get(workspaceId, id)
}

/** Every key of a workspace, newest first, unpaged (the CLI and the dashboard show them all). */
export function listKeys(deps: ReadDeps, workspaceId: string): Promise<ApiKey[]> {
  return apiKeysStore(deps).list(workspaceId)
}

/** Revokes a key of the workspace (any workspace when null, for the CLI); idempotent. */
export function revokeKey(deps: ServiceDeps, workspaceId: string | null, id: string): Promise<ApiKey> {
  return apiKeysStore(deps).revoke(workspaceId, id, deps.clock.now())
}

/** Why a stored key is refused at `now`, or null while it is live. */
function refusal(key: Pick<ApiKey, 'revokedAt' | 'expiresAt'>, now: number): 'revoked' | 'expired' | null {
  if (key.revokedAt && key.revokedAt <= now) return 'revoked'
  if (key.expiresAt && key.expiresAt <= now) return 'expired'
  return null
}

/** True while a key is neither revoked nor expired. */
export function keyLive(key: Pick<ApiKey, 'revokedAt' | 'expiresAt'>, now: number): boolean {
  return refusal(key, now) === null
}

/** Looks a presented key up by hash; checksum failures never reach the database. */
export async function authenticateKey(deps: ClockDeps, presented: string): Promise<{ key: ApiKey } | { failure: AuthFailure }> {
  if (!presented) return { failure: 'missing' }
  if (!parseKey(presented)) return { failure: 'malformed' }
  const store = apiKeysStore(deps)
  const key = await store.byHash(hashKey(presented))
  if (!key) return { failure: 'unknown' }
  const now = deps.clock.now()
  const refused = refusal(key, now)
  if (refused) return { failure: refused }
  if ((!key.lastUsedAt || now - key.lastUsedAt >= LAST_USED_RESOLUTION_MS) && (await store.touch(key.id, now))) key.lastUsedAt = now
  return { key }
}

/** The public shape of a key: never the key or its hash. */
export function serializeKey(k: ApiKey): ApiKeyModel.apiKey {
  return {
    id: k.id,
    object: 'api_key' as const,
    kind: k.kind,
    name: k.name,
    prefix: `${k.prefix}…`,
    scopes: k.scopes,
    allowed_origins: k.allowedOrigins,
    rate_limit: k.rateLimit,
    created_at: iso(k.createdAt)!,
    last_used_at: iso(k.lastUsedAt),
    expires_at: iso(k.expiresAt),
    revoked_at: iso(k.revokedAt),
  }
}
