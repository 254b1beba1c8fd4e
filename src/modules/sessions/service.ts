/**
 * Dashboard sessions. Signing in takes an operator's email and password, or a secret key with
 * `keys:manage` (checked by the API-key service); the browser then holds a random 32-byte token, of which only the SHA-256 is stored.
 * A session ends after 12 h without use, 7 days after sign-in at the latest, at sign-out, or as
 * soon as its key is revoked, expires or loses `keys:manage` (or its operator is gone).
 */
import type { SignInFailure } from '../../errors/messages'
import type { ServiceDeps } from '../../deps'
import { authenticateKey, keyLive, type ApiKey } from '../api-keys/service'
import type { Operator } from '../operators/store'
import { sessionsStore, type Session } from './store'

export type { Session } from './store'

/** A session unused for this long is over. */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000
/** No session outlives this, however busy. */
export const SESSION_MAX_MS = 7 * 24 * 60 * 60 * 1000
/** The idle deadline is moved at most this often, so page views do not each turn into a write. */
const SLIDE_RESOLUTION_MS = 60_000
/** The scope a key needs to sign in: the dashboard manages keys, so it asks for the strongest one. */
const SIGN_IN_SCOPE = 'keys:manage'

const TOKEN_BYTES = 32

/** A live session with the key or the operator it acts as (exactly one of them). */
export type ActiveSession = { session: Session; key: ApiKey; operator?: undefined } | { session: Session; key?: undefined; operator: Operator }

function randomToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES))).toString('base64url')
}

/** SHA-256 (hex) of a session token: what the table stores. */
export function hashToken(token: string): string {
  return new Bun.CryptoHasher('sha256').update(token).digest('hex')
}

function deadline(session: Pick<Session, 'createdAt'>, now: number): number {
  return Math.min(now + SESSION_IDLE_MS, session.createdAt + SESSION_MAX_MS)
}

function keyUsable(key: ApiKey | undefined, now: number): key is ApiKey {
  return !!key && keyLive(key, now) && key.scopes.includes(SIGN_IN_SCOPE)
}

/** Checks a presented key and opens a session for it; the token goes to the browser, its hash to the table. */
export async function signIn(deps: ServiceDeps, presented: string): Promise<{ token: string; session: Session; key: ApiKey } | { failure: SignInFailure }> {
  const result = await authenticateKey(deps, presented.trim())
  if ('failure' in result) return { failure: result.failure }
  if (result.key.kind !== 'secret') return { failure: 'publishable' }
  if (!result.key.scopes.includes(SIGN_IN_SCOPE)) return { failure: 'scope' }
  return { ...(await open(deps, { workspaceId: result.key.workspaceId, apiKeyId: result.key.id, operatorId: null })), key: result.key }
}

/** Opens a session for an operator whose password was checked (operators/service.ts checkPassword). */
export function signInOperator(deps: ServiceDeps, operatorId: string, workspaceId: string | null = null): Promise<{ token: string; session: Session }> {
  return open(deps, { workspaceId, apiKeyId: null, operatorId })
}

async function open(deps: ServiceDeps, who: Pick<Session, 'workspaceId' | 'apiKeyId' | 'operatorId'>): Promise<{ token: string; session: Session }> {
  const now = deps.clock.now()
  const token = randomToken()
  const session: Session = { hash: hashToken(token), ...who, csrfToken: randomToken(), createdAt: now, expiresAt: deadline({ createdAt: now }, now) }
  // Sessions that ended on their own are deleted by the retention worker (workers/retention.ts).
  await sessionsStore(deps).insert(session)
  return { token, session }
}

/** The live session of a token, its idle deadline moved forward; null (and the row gone) when it has ended. */
export async function findSession(deps: ServiceDeps, token: string | null): Promise<ActiveSession | null> {
  if (!token) return null
  const hash = hashToken(token)
  const store = sessionsStore(deps)
  const row = await store.find(hash)
  if (!row) return null
  const now = deps.clock.now()
  const { key, operator } = row
  const live = row.session.operatorId ? !!operator : keyUsable(key, now)
  if (row.session.expiresAt <= now || !live) {
    await store.delete(hash)
    return null
  }
  const next = deadline(row.session, now)
  if (next - row.session.expiresAt >= SLIDE_RESOLUTION_MS) {
    await store.slide(hash, next)
    row.session.expiresAt = next
  }
  return operator ? { session: row.session, operator } : { session: row.session, key: key! }
}

/** Remembers the workspace an operator used last, where old bookmarks (`/dashboard/…`) then lead. */
export async function rememberWorkspace(deps: ServiceDeps, session: Session, workspaceId: string): Promise<void> {
  if (session.workspaceId === workspaceId) return
  await sessionsStore(deps).setWorkspace(session.hash, workspaceId)
  session.workspaceId = workspaceId
}

/** Ends the session of a token (sign-out); a token without a session changes nothing. */
export async function endSession(deps: ServiceDeps, token: string | null): Promise<void> {
  if (!token) return
  await sessionsStore(deps).delete(hashToken(token))
}
