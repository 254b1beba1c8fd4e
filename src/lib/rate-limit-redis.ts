/**
 * Token buckets shared through Redis: one key per bucket holding its full-again time, each take
 * one Lua script (atomic on the server), the key expiring when the bucket is full again.
 *
 * Time is the injected clock's `now`, passed in, not Redis's TIME: the arithmetic is then exactly
 * the memory store's (lib/token-bucket.ts `gcra`), and the nodes' clocks are NTP-synced, far
 * closer than a refill interval.
 */
import { RedisClient } from 'bun'
import type { Clock } from './clock'
import { admitsBelow, gcra, gcraResult, type RateLimitStore, type TakeResult } from './token-bucket'

/** Keeps askad's keys apart from others' in a shared Redis. */
const KEY_PREFIX = 'askad:rl:'
const CONNECT_TIMEOUT_MS = 2_000

/**
 * KEYS[1] bucket; ARGV: now, interval, admitsBelow. Returns {allowed, full-again time}. Times go out
 * as '%.17g' text: Lua would truncate a number reply to an integer and print it with 14 digits.
 */
const TAKE_SCRIPT = `
local now = tonumber(ARGV[1])
local stored = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
local start = math.max(stored, now)
if start - now > tonumber(ARGV[3]) then
  return {0, string.format('%.17g', start)}
end
local tat = start + tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', math.max(1, math.ceil(tat - now)))
return {1, string.format('%.17g', tat)}
`

/** Connects to Redis at `url` (redis:// or rediss://). */
export function createRedisStore(url: string, clock: Clock): RateLimitStore {
  // No offline queue: while Redis is unreachable a take fails at once (and the caller fails open)
  // instead of waiting for a reconnect that may never come.
  const client = new RedisClient(url, { connectionTimeout: CONNECT_TIMEOUT_MS, enableOfflineQueue: false, autoReconnect: true })
  let sha: string | undefined
  let connecting: Promise<void> | undefined

  /** Connects first, and again after the client gave up reconnecting (a long outage). */
  async function connected(): Promise<void> {
    if (client.connected) return
    await (connecting ??= client.connect().finally(() => (connecting = undefined)))
  }

  async function evalTake(args: string[]): Promise<[number, string]> {
    await connected()
    sha ??= (await client.send('SCRIPT', ['LOAD', TAKE_SCRIPT])) as string
    try {
      return (await client.send('EVALSHA', [sha, '1', ...args])) as [number, string]
    } catch (error) {
      // A restarted or flushed Redis has forgotten the script: run it in full (which caches it again).
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error
      return (await client.send('EVAL', [TAKE_SCRIPT, '1', ...args])) as [number, string]
    }
  }

  return {
    async take(id, capacity, windowMs): Promise<TakeResult> {
      const now = clock.now()
      const [allowed, tat] = await evalTake([KEY_PREFIX + id, String(now), String(windowMs / capacity), String(admitsBelow(capacity, windowMs))])
      return gcraResult(allowed === 1, Number(tat), now, capacity, windowMs)
    },
    async peek(id, capacity, windowMs): Promise<TakeResult> {
      await connected()
      const now = clock.now()
      const stored = await client.get(KEY_PREFIX + id)
      return gcra(stored === null ? undefined : Number(stored), now, capacity, windowMs, false)
    },
    async close() {
      client.close()
    },
  }
}
