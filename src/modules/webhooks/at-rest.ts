/** Webhook secrets and static header values at rest: sealed with ASKAD_SECRET_KEY when set, checked at start, re-sealed by `askad secrets`. */
import { eq, like, or } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { webhookEndpoints } from '../../db/schema'
import { writeTx } from '../../db/tx'
import { isSealed, type SecretBox } from '../../lib/secret-box'

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
export function assertSecretKeyFits(db: Db, box: SecretBox): void {
  const sealed = db
    .select()
    .from(webhookEndpoints)
    .where(or(like(webhookEndpoints.secret, 'enc:v1:%'), like(webhookEndpoints.previousSecret, 'enc:v1:%'), like(webhookEndpoints.headers, '%"enc:v1:%')))
    .limit(1)
    .get()
  if (sealed) openEndpoint(box, sealed)
}

/** The secrets and header values of an endpoint row in plaintext. */
function openEndpoint(box: SecretBox, row: typeof webhookEndpoints.$inferSelect) {
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
export function resealAll(db: Db, from: SecretBox, to: SecretBox): ResealResult {
  return writeTx(db, (tx) => {
    const rows = tx.select().from(webhookEndpoints).all()
    let encrypted = 0
    for (const row of rows) {
      const plain = openEndpoint(from, row)
      const secret = to.seal(plain.secret)
      const previousSecret = plain.previousSecret === null ? null : to.seal(plain.previousSecret)
      const headers = sealHeaders(to, plain.headers)
      encrypted += [secret, previousSecret, ...Object.values(headers)].filter((v) => v !== null && isSealed(v)).length
      tx.update(webhookEndpoints).set({ secret, previousSecret, headers }).where(eq(webhookEndpoints.id, row.id)).run()
    }
    return { endpoints: rows.length, encrypted }
  })
}
