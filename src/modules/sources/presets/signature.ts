/** Signature checks shared by the presets: constant-time comparison and HMAC-SHA256. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Whether two strings are equal, in time that depends on neither: both are hashed first, so even their lengths
 * are not revealed by an early return.
 */
export function safeEqual(a: string, b: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(a), digest(b))
}

/** HMAC-SHA256 of `data` keyed with `secret` (as UTF-8), in the encoding the tool sends it. */
export function hmacSha256(secret: string, data: string | Uint8Array, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', secret).update(data).digest(encoding)
}
