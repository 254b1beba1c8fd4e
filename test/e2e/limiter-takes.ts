/**
 * One node's share of the cross-process limiter test (rate-limit-cluster.test.ts): opens the store
 * named on the command line, waits for the common start time, fires its takes (in concurrent waves) on
 * one bucket and prints how many were allowed as JSON.
 *
 *   bun test/e2e/limiter-takes.ts <postgres|redis> <url> <bucket> <capacity> <windowMs> <takes> <startAtMs>
 */
import { systemClock } from '../../src/lib/clock'
import { createPostgresStore } from '../../src/lib/rate-limit-postgres'
import { createRedisStore } from '../../src/lib/rate-limit-redis'

const [kind, url, bucket, capacity, windowMs, takes, startAt] = process.argv.slice(2)
const store = kind === 'postgres' ? createPostgresStore(url!, systemClock) : createRedisStore(url!, systemClock)
// Connect (and create the table) before the start, so the race is between takes, not connections.
await store.peek(`${bucket}-warm-up`, 1, 1)
await Bun.sleep(Math.max(0, Number(startAt) - Date.now()))
// In waves of WAVE concurrent takes: a node's takes then span many round trips and interleave with the other nodes'.
const WAVE = 10
let allowed = 0
for (let done = 0; done < Number(takes); done += WAVE) {
  const wave = await Promise.all(Array.from({ length: Math.min(WAVE, Number(takes) - done) }, () => store.take(bucket!, Number(capacity), Number(windowMs))))
  allowed += wave.filter((r) => r.allowed).length
}
await store.close()
console.log(JSON.stringify({ allowed }))
