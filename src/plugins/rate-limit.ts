/**
 * Rate limits (SPEC §5), applied by the auth plugin the moment a key is known, before any body
 * is read. Three token buckets, all refilling over the instance window (`ASKAD_RATE_LIMIT`):
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
 */
import type { Config } from '../config'
import { parseIp } from '../lib/client-ip'
import type { Clock } from '../lib/clock'
import { ApiError } from '../errors'
import { createTokenBuckets, type TakeResult } from '../lib/token-bucket'
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

/** Creates the buckets of one app instance; `begin` binds each request to them. */
export function createRateLimits(deps: { clock: Clock; config: Pick<Config, 'rateLimit'> }) {
  const buckets = createTokenBuckets(deps.clock)
  const { capacity, windowMs } = deps.config.rateLimit
  const failures: Policy = { name: 'auth-failures', capacity, windowMs }
  const preflights: Policy = { name: 'preflight', capacity, windowMs }

  return {
    /** Binds the request to its client IP and response headers; nothing is refused yet. */
    begin(request: Request, ip: string, headers: ResponseHeaders): void {
      const client = clientBucket(ip)
      const failureBucket = `failed:${client}`
      requestContext(request).limits = {
        authFailed() {
          const result = buckets.take(failureBucket, failures.capacity, failures.windowMs)
          writeHeaders(headers, failures, result, deps.clock.now())
          if (!result.allowed) throw refuse(failures)
        },
        refuseIfOutOfFailures() {
          const result = buckets.peek(failureBucket, failures.capacity, failures.windowMs)
          if (result.allowed) return
          writeHeaders(headers, failures, result, deps.clock.now())
          throw refuse(failures)
        },
        authenticated(key) {
          const now = deps.clock.now()
          const keyPolicy: Policy = { name: 'default', capacity: key.rateLimit ?? capacity, windowMs }
          let browser: { policy: Policy; result: TakeResult } | undefined
          if (key.kind === 'publishable') {
            const policy: Policy = { name: 'browser', capacity: Math.ceil(keyPolicy.capacity / BROWSER_SHARE), windowMs }
            browser = { policy, result: buckets.take(`browser:${key.id}:${client}`, policy.capacity, windowMs) }
            if (!browser.result.allowed) {
              writeHeaders(headers, policy, browser.result, now)
              throw refuse(policy)
            }
          }
          const result = buckets.take(`key:${key.id}`, keyPolicy.capacity, windowMs)
          // The headers describe whichever bucket runs out first.
          if (browser && result.allowed && browser.result.remaining < result.remaining) writeHeaders(headers, browser.policy, browser.result, now)
          else writeHeaders(headers, keyPolicy, result, now)
          if (!result.allowed) throw refuse(keyPolicy)
        },
      } satisfies RequestLimits
    },

    /** Takes a token from the client IP's preflight bucket; throws 429 when it is empty. */
    preflight(ip: string, headers: ResponseHeaders): void {
      const result = buckets.take(`preflight:${clientBucket(ip)}`, preflights.capacity, preflights.windowMs)
      if (result.allowed) return
      writeHeaders(headers, preflights, result, deps.clock.now())
      throw refuse(preflights)
    },
  }
}
