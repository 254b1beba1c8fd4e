/** Webhook secrets and static header values at rest: sealed with ASKAD_SECRET_KEY when set, checked at start, re-sealed by `askad secrets`. */
import { isSealed, type SecretBox } from '../../lib/secret-box'
import { webhooksStore, type Endpoint, type WebhooksStoreDeps } from './store'

type Headers = Record<string, string>

/** Header values sealed for storage; names stay readable (responses list them). */
export function sealHeaders(box: SecretBox, headers: Headers): Headers {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, box.seal(value)]))
}

/** Header values as sent. */
export function openHeaders(box: SecretBox, headers: Headers): Headers {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, box.open(value)]))
}

/**
 * Throws SecretKeyError when an encrypted value in the database cannot be opened with this box (a
 * wrong key, or none): better to refuse to start than to send unsigned-looking garbage later.
 */
export async function assertSecretKeyFits(deps: WebhooksStoreDeps, box: SecretBox): Promise<void> {
  const sealed = await webhooksStore(deps).findSealedEndpoint()
  if (sealed) openEndpoint(box, sealed)
}

/** The secrets and header values of an endpoint row in plaintext. */
function openEndpoint(box: SecretBox, row: Endpoint) {
  return {
    secret: box.open(row.secret),
    previousSecret: row.previousSecret === null ? null : box.open(row.previousSecret),
    headers: openHeaders(box, row.headers),
  }
}

/** What re-sealing changed. */
export interface ResealResult {
  endpoints: number
  /** Values now stored encrypted (0 when `to` has no key). */
  encrypted: number
}

/**
 * Opens every endpoint's secrets and header values with `from` and stores them sealed with `to`, in
 * one transaction: either every row moves to the new key or none does (a value `from` cannot open
 * aborts it all). Plaintext values are read as they are, so this also encrypts a plaintext database.
 */
export async function resealAll(deps: WebhooksStoreDeps, from: SecretBox, to: SecretBox): Promise<ResealResult> {
  const resealed = await webhooksStore(deps).resealEndpoints((row) => {
    const plain = openEndpoint(from, row)
    return {
      secret: to.seal(plain.secret),
      previousSecret: plain.previousSecret === null ? null : to.seal(plain.previousSecret),
      headers: sealHeaders(to, plain.headers),
    }
  })
  const encrypted = resealed.flatMap((r) => [r.secret, r.previousSecret, ...Object.values(r.headers)]).filter((v) => v !== null && isSealed(v)).length
  return { endpoints: resealed.length, encrypted }
}
