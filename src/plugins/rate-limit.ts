/**
 * Rate limits (SPEC §5), applied by the auth plugin the moment a key is known, before any body
 * is read. Four token buckets, all refilling over the instance window (`ASKAD_RATE_LIMIT`):
 * - per API key ("default"): the key's `rate_limit`, else the instance capacity;
 * - per client IP for failed authentication ("auth-failures"): every 401 takes a token, and an
 *   IP with none left gets 429 instead of 401 for every further failure — this is what slows
 *   guessing. A valid key still passes from that IP, so one guesser behind a NAT cannot lock
 *   out the office's working keys: only failures spend (and are refused by) this budget;
 * - per publishable key and client IP ("browser"): a tenth of the key's capacity, so one
 *   browser cannot use up a form's quota. It is checked before the key's bucket, so requests
 *   it refuses cost the form nothing;
 * - per client IP for CORS preflights ("preflight"): OPTIONS is answered without a key, so it
 *   is limited on its own (browsers cache a preflight for ten minutes; a page needs few).
 * All of them live in one store: this process's memory, or Redis/PostgreSQL shared by every node.
 */
import type { Config } from '../config'
import { parseIp } from '../lib/client-ip'
import type { Clock } from '../lib/clock'
import { ApiError } from '../errors'
import type { ApiKey } from '../db/api-key'
import { after, type MaybePromise } from '../lib/maybe-async'
import { createTokenBuckets, type RateLimitStore, type TakeResult } from '../lib/token-bucket'
import { requestContext, type RequestLimits } from './request-context'

/** One browser may use this fraction (1/n) of a publishable key's bucket. */
const BROWSER_SHARE = 10

interface Policy {
  name: 'default' | 'auth-failures' | 'browser' | 'preflight'
  capacity: number
  windowMs: number
}

type ResponseHeaders = Record<string, string | number>

/** An IPv6 client is limited as its whole /64 (one subscriber's share), or it could rotate through addresses. */
function clientBucket(ip: string): string {
  // An IPv4 address has no colon: its own bucket, without parsing it on every request.
  if (!ip.includes(':')) return ip
  const addr = parseIp(ip)
  if (addr?.kind() !== 'ipv6') return ip
  return `${addr.toNormalizedString().split(':').slice(0, 4).join(':')}::/64`
}

/** Writes the GitHub-style X-RateLimit-* headers, the IETF draft pair and, when refused, Retry-After. */
function writeHeaders(headers: ResponseHeaders, policy: Policy, result: TakeResult, now: number): void {
  const secondsUntil = (ms: number) => Math.max(0, Math.ceil((ms - now) / 1000))
  headers['x-ratelimit-limit'] = String(policy.capacity)
  headers['x-ratelimit-remaining'] = String(result.remaining)
  headers['x-ratelimit-reset'] = String(Math.ceil(result.resetAt / 1000))
  headers['ratelimit-policy'] = `"${policy.name}";q=${policy.capacity};w=${Math.ceil(policy.windowMs / 1000)}`
  headers.ratelimit = `"${policy.name}";r=${result.remaining};t=${secondsUntil(result.resetAt)}`
  if (!result.allowed) headers['retry-after'] = String(Math.max(1, secondsUntil(result.nextTokenAt)))
}

function refuse(policy: Policy): ApiError {
  const detail: Record<Policy['name'], string> = {
    default: `This API key may make ${policy.capacity} requests per ${policy.windowMs / 1000} s; wait for Retry-After seconds.`,
    'auth-failures': 'Too many requests without a valid API key from this address; wait for Retry-After seconds.',
    browser: 'Too many submissions from this browser for this form; wait for Retry-After seconds.',
    preflight: 'Too many CORS preflight requests from this address; wait for Retry-After seconds.',
  }
  return new ApiError('rate_limited', detail[policy.name])
}

/**
 * Binds each request to the buckets in `store` (memory by default, or shared by all nodes:
 * lib/rate-limit-store.ts). With the memory store every check is synchronous; a shared store's
 * answers are promises, and then so are the hooks' (the gate awaits them).
 */
export function createRateLimits(deps: { clock: Clock; config: Pick<Config, 'rateLimit'>; rateLimitStore?: RateLimitStore }) {
  const buckets = deps.rateLimitStore ?? createTokenBuckets(deps.clock)
  const { capacity, windowMs } = deps.config.rateLimit
  const failures: Policy = { name: 'auth-failures', capacity, windowMs }
  const preflights: Policy = { name: 'preflight', capacity, windowMs }

  return {
    /** Binds the request to its client IP and response headers; nothing is refused yet. */
    begin(request: Request, ip: string, headers: ResponseHeaders): void {
      const client = clientBucket(ip)
      const failureBucket = `failed:${client}`

      /** The key's bucket, after the browser's (if any) let the request through. */
      const takeForKey = (key: ApiKey, keyPolicy: Policy, browser?: { policy: Policy; result: TakeResult }) =>
        after(buckets.take(`key:${key.id}`, keyPolicy.capacity, windowMs), (result) => {
          const now = deps.clock.now()
          // The headers describe whichever bucket runs out first.
          if (browser && result.allowed && browser.result.remaining < result.remaining) writeHeaders(headers, browser.policy, browser.result, now)
          else writeHeaders(headers, keyPolicy, result, now)
          if (!result.allowed) throw refuse(keyPolicy)
        })

      requestContext(request).limits = {
        authFailed() {
          return after(buckets.take(failureBucket, failures.capacity, failures.windowMs), (result) => {
            writeHeaders(headers, failures, result, deps.clock.now())
            if (!result.allowed) throw refuse(failures)
          })
        },
        refuseIfOutOfFailures() {
          return after(buckets.peek(failureBucket, failures.capacity, failures.windowMs), (result) => {
            if (result.allowed) return
            writeHeaders(headers, failures, result, deps.clock.now())
            throw refuse(failures)
          })
        },
        authenticated(key) {
          const keyPolicy: Policy = { name: 'default', capacity: key.rateLimit ?? capacity, windowMs }
          if (key.kind !== 'publishable') return takeForKey(key, keyPolicy)
          const policy: Policy = { name: 'browser', capacity: Math.ceil(keyPolicy.capacity / BROWSER_SHARE), windowMs }
          return after(buckets.take(`browser:${key.id}:${client}`, policy.capacity, windowMs), (result) => {
            if (result.allowed) return takeForKey(key, keyPolicy, { policy, result })
            writeHeaders(headers, policy, result, deps.clock.now())
            throw refuse(policy)
          })
        },
      } satisfies RequestLimits
    },

    /** Takes a token from the client IP's preflight bucket; throws (or rejects with) 429 when it is empty. */
    preflight(ip: string, headers: ResponseHeaders): MaybePromise<void> {
      return after(buckets.take(`preflight:${clientBucket(ip)}`, preflights.capacity, preflights.windowMs), (result) => {
        if (result.allowed) return
        writeHeaders(headers, preflights, result, deps.clock.now())
        throw refuse(preflights)
      })
    },
  }
}
