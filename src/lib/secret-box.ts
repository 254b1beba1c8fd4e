/**
 * Encryption at rest for webhook signing secrets and static header values: AES-256-GCM under
 * ASKAD_SECRET_KEY (as Svix does with its main secret). Stored as `enc:v1:<base64 iv|ciphertext|tag>`
 * in the same text columns; values without the prefix are plaintext and still read, so a database
 * can be encrypted row by row and mixed states keep working.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const PREFIX = 'enc:v1:'
const KEY_BYTES = 32
/** GCM's standard nonce size; random per value, far below the 2^32 values one key may seal this way. */
const IV_BYTES = 12
const TAG_BYTES = 16

/** Seals values for storage and opens them again. */
export interface SecretBox {
  /** True when values are encrypted (a key is set). */
  readonly encrypts: boolean
  /** The stored form of a plaintext value: encrypted with a key, unchanged without. */
  seal(plain: string): string
  /** The plaintext of a stored value, encrypted or not; throws SecretKeyError when it cannot be decrypted. */
  open(stored: string): string
}

/** A stored value this key (or the lack of one) cannot decrypt. */
export class SecretKeyError extends Error {}

/** True for a value in the encrypted stored form. */
export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX)
}

/** Decodes ASKAD_SECRET_KEY: exactly 32 bytes, base64 (`openssl rand -base64 32`). */
export function parseSecretKey(text: string, name = 'ASKAD_SECRET_KEY'): Buffer {
  const key = Buffer.from(text.trim(), 'base64')
  if (key.length !== KEY_BYTES || key.toString('base64') !== text.trim()) {
    throw new Error(`Invalid ${name}: use 32 random bytes in base64 (44 characters), e.g. from 'openssl rand -base64 32'`)
  }
  return key
}

/** A box for this key; without one, values are stored as they are and encrypted ones cannot be read. */
export function createSecretBox(key: Buffer | undefined): SecretBox {
  return {
    encrypts: key !== undefined,
    seal(plain) {
      if (!key) return plain
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const sealed = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()])
      return PREFIX + sealed.toString('base64')
    },
    open(stored) {
      if (!isSealed(stored)) return stored
      if (!key) throw new SecretKeyError('Webhook secrets in the database are encrypted; set ASKAD_SECRET_KEY to the key that encrypted them.')
      const raw = Buffer.from(stored.slice(PREFIX.length), 'base64')
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES))
        decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
        return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8')
      } catch {
        throw new SecretKeyError('ASKAD_SECRET_KEY does not decrypt the webhook secrets in the database (a different key encrypted them).')
      }
    },
  }
}
