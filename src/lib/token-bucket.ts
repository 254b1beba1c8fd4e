/**
 * Token buckets, one per id (API key, client IP, …): the GCRA arithmetic every store shares, the
 * store interface, and the in-memory store (the default; the shared ones are rate-limit-postgres.ts
 * and rate-limit-redis.ts).
 *
 * In memory a bucket is stored as two numbers: a 53-bit hash of its id and the time at which it will be
 * full again (the "theoretical arrival time" of GCRA, an exact token bucket), about 65 bytes.
 * A bucket untouched for a whole window is full, and a full bucket is the same as none, so the
 * buckets live in two generations: once per window the older generation is dropped whole.
 * No sweep, no timer; memory holds the ids active within the last two windows, and a
 * generation that reaches `maxBuckets` is retired early.
 */
import type { Clock } from './clock'

export interface TakeResult {
  /** True when a token was available (and, for `take`, consumed). */
  allowed: boolean
  /** Whole tokens left after this request. */
  remaining: number
  /** Unix ms at which the bucket is full again. */
  resetAt: number
  /** Unix ms at which the next token is available (now when one already is). */
  nextTokenAt: number
}

/**
 * Where buckets live (memory, PostgreSQL, Redis; lib/rate-limit-store.ts): `take` consumes a token
 * when one is there, `peek` only looks. A shared store answers with a promise; the memory store
 * answers synchronously, and callers await only promises, so the default path costs no extra tick.
 */
export interface RateLimitStore {
  take(id: string, capacity: number, windowMs: number): TakeResult | Promise<TakeResult>
  peek(id: string, capacity: number, windowMs: number): TakeResult | Promise<TakeResult>
  /** Releases connections and timers (nothing for memory). */
  close(): Promise<void>
}

/** The in-memory store, synchronous. */
export interface TokenBuckets extends RateLimitStore {
  take(id: string, capacity: number, windowMs: number): TakeResult
  peek(id: string, capacity: number, windowMs: number): TakeResult
  /** Buckets currently held in memory. */
  readonly size: number
}

/** Default cap on the buckets of one generation (two are held: at most about 130 MB). */
const DEFAULT_MAX_BUCKETS = 1_000_000

/** Float slack for refill intervals like 60000/7 ms, so the capacity-th token is never lost to rounding. */
const EPSILON_MS = 1e-6

/**
 * The GCRA decision every store makes, from a bucket's full-again time (`stored`, undefined for none):
 * allowed when the bucket's fill level leaves room for one more interval. Shared stores evaluate the
 * same comparison atomically (`admitsBelow`) and hand the outcome to `gcraResult` for the numbers.
 */
export function gcra(stored: number | undefined, now: number, capacity: number, windowMs: number, consume: boolean): TakeResult {
  const interval = windowMs / capacity
  const start = Math.max(stored ?? now, now)
  const allowed = start - now <= admitsBelow(capacity, windowMs)
  return gcraResult(allowed, allowed && consume ? start + interval : start, now, capacity, windowMs)
}

/** A take is allowed while the bucket's full-again time is at most this far ahead of now. */
export function admitsBelow(capacity: number, windowMs: number): number {
  return windowMs - windowMs / capacity + EPSILON_MS
}

/** The answer for a bucket whose full-again time is now `end`. */
export function gcraResult(allowed: boolean, end: number, now: number, capacity: number, windowMs: number): TakeResult {
  const interval = windowMs / capacity
  const remaining = Math.max(0, Math.floor((windowMs - (end - now)) / interval + EPSILON_MS))
  const nextTokenAt = Math.max(now, end - (windowMs - interval))
  return { allowed, remaining, resetAt: end, nextTokenAt }
}

/** Creates an empty set of buckets; time comes from the injected clock. */
export function createTokenBuckets(clock: Clock, options: { maxBuckets?: number } = {}): TokenBuckets {
  const maxBuckets = options.maxBuckets ?? DEFAULT_MAX_BUCKETS
  let current = new Map<number, number>()
  let previous = new Map<number, number>()
  let rotatedAt = clock.now()
  let longestWindowMs = 0
  // Numbers instead of id strings take a third of the memory; per-process random seeds keep
  // collisions (a 1 in 4,500 chance of any among 2 million live buckets) out of an attacker's hands.
  const seeds = crypto.getRandomValues(new Uint32Array(2))
  const hashOf = (id: string) => (Bun.hash.murmur32v3(id, seeds[0]) & 0x1fffff) * 0x1_0000_0000 + Bun.hash.murmur32v3(id, seeds[1])

  function rotateIfDue(now: number, windowMs: number): void {
    longestWindowMs = Math.max(longestWindowMs, windowMs)
    // Everything in `previous` was last touched before `rotatedAt`, so at least a window ago: full.
    if (now - rotatedAt >= longestWindowMs || current.size >= maxBuckets) {
      previous = current
      current = new Map()
      rotatedAt = now
    }
  }

  function check(name: string, capacity: number, windowMs: number, consume: boolean): TakeResult {
    const now = clock.now()
    rotateIfDue(now, windowMs)
    const id = hashOf(name)
    const stored = current.get(id) ?? previous.get(id)
    const result = gcra(stored, now, capacity, windowMs, consume)
    if (result.allowed && consume) current.set(id, result.resetAt)
    return result
  }

  return {
    take: (id, capacity, windowMs) => check(id, capacity, windowMs, true),
    peek: (id, capacity, windowMs) => check(id, capacity, windowMs, false),
    close: async () => {},
    get size() {
      return current.size + previous.size
    },
  }
}
