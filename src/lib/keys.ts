/**
 * API key format: `ask_sk_` or `ask_pk_`, 30 random base62 characters (~178 bits), then a
 * 6-character base62 CRC32 of everything before it. The checksum lets us reject typos and
 * garbage without touching the database, and gives secret scanners a pattern to match.
 */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const RANDOM_LENGTH = 30
const CHECKSUM_LENGTH = 6
/** Characters of the random part shown in listings after the kind prefix. */
const DISPLAY_CHARS = 4

/** The two kinds of key, after Stripe: secret (servers) and publishable (pages). The schema takes its enum from here. */
export const KEY_KINDS = ['secret', 'publishable'] as const
export type KeyKind = (typeof KEY_KINDS)[number]

const KIND_PREFIX: Record<KeyKind, string> = { secret: 'ask_sk_', publishable: 'ask_pk_' }
/** How every secret key starts; such a key must never travel in a URL or a page. */
export const SECRET_KEY_PREFIX = KIND_PREFIX.secret
const KEY_PATTERN = new RegExp(`^ask_(sk|pk)_[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`)

function base62(n: number, width: number): string {
  let out = ''
  for (let i = 0; i < width; i++) {
    out = BASE62[n % 62] + out
    n = Math.floor(n / 62)
  }
  return out
}

function checksum(body: string): string {
  return base62(Bun.hash.crc32(body), CHECKSUM_LENGTH)
}

function randomBase62(length: number): string {
  let out = ''
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      // 248 = 62 * 4: rejecting bytes >= 248 keeps every character equally likely.
      if (byte < 248 && out.length < length) out += BASE62[byte % 62]
    }
  }
  return out
}

/** A fresh, valid key of the given kind. */
export function generateKey(kind: KeyKind): string {
  const body = KIND_PREFIX[kind] + randomBase62(RANDOM_LENGTH)
  return body + checksum(body)
}

/** The kind of a well-formed key with a correct checksum, else null. */
export function parseKey(key: string): KeyKind | null {
  const match = KEY_PATTERN.exec(key)
  if (!match) return null
  const body = key.slice(0, -CHECKSUM_LENGTH)
  if (checksum(body) !== key.slice(-CHECKSUM_LENGTH)) return null
  return match[1] === 'sk' ? 'secret' : 'publishable'
}

/** SHA-256 hex of a key: all that is stored. Right for high-entropy secrets (no slow KDF needed). */
export function hashKey(key: string): string {
  return new Bun.CryptoHasher('sha256').update(key).digest('hex')
}

/** What listings and logs show of a key, e.g. `ask_sk_3fA9`. */
export function keyPrefix(key: string): string {
  return key.slice(0, KIND_PREFIX.secret.length + DISPLAY_CHARS)
}

/**
 * How a source's token starts (`/api/v1/in/src_…`): the same random part and checksum as a key, so a
 * guessed or mistyped token is refused without a look-up and secret scanners can match a leaked URL.
 */
export const SOURCE_TOKEN_PREFIX = 'src_'
const SOURCE_TOKEN_PATTERN = new RegExp(`^src_[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`)

/** A fresh source token. */
export function generateSourceToken(): string {
  const body = SOURCE_TOKEN_PREFIX + randomBase62(RANDOM_LENGTH)
  return body + checksum(body)
}

/** True for a well-formed source token with a correct checksum. */
export function isSourceToken(token: string): boolean {
  return SOURCE_TOKEN_PATTERN.test(token) && checksum(token.slice(0, -CHECKSUM_LENGTH)) === token.slice(-CHECKSUM_LENGTH)
}

/** What listings and logs show of a source token, e.g. `src_3fA9`. */
export function sourceTokenPrefix(token: string): string {
  return token.slice(0, SOURCE_TOKEN_PREFIX.length + DISPLAY_CHARS)
}

/**
 * Longer than a display prefix: a prefix alone (already shown in listings) is left as it is, not redacted twice.
 * Percent-escapes count as characters: a path keeps them as sent, and `src_kEek%36EX…` is still the token.
 */
const KEY_ANYWHERE = new RegExp(`(ask_(sk|pk)_|src_)(?:[0-9A-Za-z]|%[0-9A-Fa-f]{2}){${DISPLAY_CHARS + 1},}`, 'g')

/** The characters a match's percent-escapes stand for; the match itself when they are not UTF-8. */
function unescaped(match: string): string {
  try {
    return decodeURIComponent(match)
  } catch {
    return match
  }
}

/** Replaces anything key-shaped (API keys, source tokens) in free text (paths, messages, URLs) by its display prefix. */
export function redactKeys(text: string): string {
  return text.replace(KEY_ANYWHERE, (found) => {
    const match = unescaped(found)
    return `${match.startsWith(SOURCE_TOKEN_PREFIX) ? sourceTokenPrefix(match) : keyPrefix(match)}…`
  })
}
