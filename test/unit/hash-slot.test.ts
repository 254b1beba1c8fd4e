/** Argon2id work queues for a slot: bursts of sign-ins never run more than HASHING_AT_ONCE hashes at once. */
import { expect, test } from 'bun:test'
import { HASHING_AT_ONCE, hashSlot } from '../../src/modules/operators/service'
import { useTestTimeout } from '../timeout'

useTestTimeout()

test('at most HASHING_AT_ONCE run at once; the rest run in turn, also after a failure', async () => {
  let running = 0
  let peak = 0
  const work = (fail: boolean) => async () => {
    running++
    peak = Math.max(peak, running)
    await Bun.sleep(5)
    running--
    if (fail) throw new Error('bad hash')
    return 'ok'
  }
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => hashSlot(work(i % 3 === 0))))
  expect(peak).toBe(HASHING_AT_ONCE)
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(6)
  // Slots came back after the failures: the next one runs at once.
  expect(await hashSlot(work(false))).toBe('ok')
})
