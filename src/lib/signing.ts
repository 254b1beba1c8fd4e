/** Standard Webhooks signing: `whsec_` secrets and `v1,<base64 HMAC-SHA256>` signatures. */
import { createHmac, randomBytes } from 'node:crypto'

const SECRET_PREFIX = 'whsec_'
/** Random bytes in a new signing secret (Standard Webhooks recommends 24–64). */
const SECRET_BYTES = 32

/** A fresh endpoint secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64')
}

const SECRET_ANYWHERE = /whsec_[A-Za-z0-9+/]+=*/g

/** Replaces every signing secret in free text by `whsec_…`, for anything that is stored or logged. */
export function redactSigningSecrets(text: string): string {
  return text.replace(SECRET_ANYWHERE, `${SECRET_PREFIX}…`)
}

/** The HMAC key of a secret: the base64-decoded part after `whsec_`. */
function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64')
}

/** One `v1,` signature of `{id}.{timestamp}.{body}`; timestamp in Unix seconds. */
export function sign(secret: string, msgId: string, timestampSec: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${msgId}.${timestampSec}.${body}`).digest('base64')
  return `v1,${mac}`
}

/** The `webhook-signature` header value: one signature per active secret, space-separated. */
export function signatureHeader(secrets: string[], msgId: string, timestampSec: number, body: string): string {
  return secrets.map((secret) => sign(secret, msgId, timestampSec, body)).join(' ')
}
