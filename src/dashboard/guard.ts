/**
 * The dashboard's HTTP-side protections: the session cookie, the same-origin check and the
 * per-session CSRF token on every state-changing request, and the per-IP limit on failed sign-ins.
 */
import { timingSafeEqual } from 'node:crypto'
import type { Clock } from '../lib/clock'
import { createTokenBuckets, type RateLimitStore, type TakeResult } from '../lib/token-bucket'
import { SESSION_MAX_MS } from '../modules/sessions/service'

export const SESSION_COOKIE = 'askad_session'
/** Name of the hidden form field (or `X-CSRF-Token` header) carrying the session's CSRF token. */
export const CSRF_FIELD = '_csrf'

/** Failed sign-ins allowed per client IP per window: enough for typos, far too few for guessing. */
export const SIGN_IN_FAILURES_PER_WINDOW = 10
export const SIGN_IN_WINDOW_MS = 5 * 60 * 1000

/** The value of one cookie from the Cookie header, or null. */
export function readCookie(request: Request, name: string): string | null {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === name) return v.join('=') || null
  }
  return null
}

/**
 * Set-Cookie for a session token: never readable by scripts, never sent on cross-site requests.
 * Secure when the browser speaks https, directly or through a TLS-terminating proxy; believing
 * X-Forwarded-Proto from anyone is safe here because it can only make the cookie stricter.
 */
export function sessionCookie(request: Request, token: string): string {
  const https = new URL(request.url).protocol === 'https:' || request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https'
  const secure = https ? '; Secure' : ''
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_MS / 1000}${secure}`
}

/** Set-Cookie that removes the session cookie. */
export function clearedCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`
}

/**
 * True when a state-changing request comes from a page of this server. Browsers send Origin on
 * every POST; it must name this host (compared by host, so a TLS-terminating proxy that keeps
 * the Host header still matches). Without Origin, Sec-Fetch-Site must not say cross-site.
 */
export function sameOrigin(request: Request): boolean {
  const host = request.headers.get('host') ?? new URL(request.url).host
  const origin = request.headers.get('origin')
  if (origin !== null) {
    try {
      return new URL(origin).host === host
    } catch {
      return false // "null" and other opaque origins
    }
  }
  const site = request.headers.get('sec-fetch-site')
  return site === null || site === 'same-origin' || site === 'none'
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfMatches(presented: string | null | undefined, expected: string): boolean {
  if (!presented) return false
  const a = Buffer.from(presented)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * Counts failed sign-ins per client IP; successful ones cost nothing, and a valid key signs in
 * even from an address whose failures are used up (an office behind one NAT stays usable). A
 * password is not even checked from such an address (`waitFor`): checking it would tell a guesser
 * whether the guess was right, so the limit would slow no one.
 */
export function createSignInLimiter(clock: Clock, store?: RateLimitStore) {
  // The API's rate-limit store when there is one (Redis or PostgreSQL: shared by every node, so N
  // nodes do not allow N times the guesses); this process's own buckets otherwise.
  const buckets: RateLimitStore = store ?? createTokenBuckets(clock)
  const id = (ip: string) => `sign-in:${ip}`
  const secondsToWait = (result: TakeResult) => (result.allowed ? 0 : Math.max(1, Math.ceil((result.nextTokenAt - clock.now()) / 1000)))
  return {
    /** Counts a failed sign-in; resolves with the seconds to wait when this IP has no failures left (0: it may try again now). */
    async failed(ip: string): Promise<number> {
      return secondsToWait(await buckets.take(id(ip), SIGN_IN_FAILURES_PER_WINDOW, SIGN_IN_WINDOW_MS))
    },
    /** The seconds to wait when this IP has no failures left, without counting anything (0: it may try now). */
    async waitFor(ip: string): Promise<number> {
      return secondsToWait(await buckets.peek(id(ip), SIGN_IN_FAILURES_PER_WINDOW, SIGN_IN_WINDOW_MS))
    },
  }
}
