/**
 * The first-run setup: while no operator exists, `serve` prints a one-time link that lets whoever
 * holds it create the first operator. Only the token's SHA-256 is kept, in this process's memory:
 * a restart prints a new one, and the link works once.
 */
import { timingSafeEqual } from 'node:crypto'
import { hashToken } from '../sessions/service'

const TOKEN_BYTES = 32

/** The in-memory gate of the setup page. */
export interface SetupGate {
  /** True while the token is the one printed and has not been used. */
  check(token: string | undefined): boolean
  /** Closes the gate for good (the first operator exists). */
  close(): void
}

/** A new gate and the token that opens it (printed once, never stored). */
export function openSetupGate(): { token: string; gate: SetupGate } {
  const token = Buffer.from(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES))).toString('base64url')
  let hash: Buffer | null = Buffer.from(hashToken(token))
  return {
    token,
    gate: {
      check(presented) {
        if (!hash || !presented) return false
        const candidate = Buffer.from(hashToken(presented))
        return candidate.length === hash.length && timingSafeEqual(candidate, hash)
      },
      close() {
        hash = null
      },
    },
  }
}
