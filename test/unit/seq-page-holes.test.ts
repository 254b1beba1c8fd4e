/** pageUpperSeq: page N's upper seq over a sequence with erased holes, checked against counting. */
import { expect, test } from 'bun:test'
import fc from 'fast-check'
import { pageUpperSeq } from '../../src/db/seq-page'

test('the upper seq has exactly `skip` live seqs above it, and is live itself when a row is left', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.array(fc.integer({ min: 1, max: 300 })), fc.nat(300), (high, holes, skipWanted) => {
      const erased = [...new Set(holes.filter((s) => s <= high))].sort((a, b) => b - a)
      const total = high - erased.length
      const skip = Math.min(skipWanted, Math.max(0, total - 1))
      if (total === 0) return
      const upper = pageUpperSeq(high, skip, erased)
      const liveAbove = Array.from({ length: high - upper }, (_, i) => upper + 1 + i).filter((s) => !erased.includes(s)).length
      expect(liveAbove).toBe(skip)
      // The first row of the page is the highest live seq at or below it.
      const first = Array.from({ length: upper }, (_, i) => upper - i).find((s) => !erased.includes(s))
      expect(first).toBeDefined()
    }),
    { numRuns: 2000 },
  )
})

test('a run of erased seqs right below the estimate is crossed in one walk', () => {
  // high 100 with 90..100 erased: skipping one live row (89) starts the page at 88.
  expect(pageUpperSeq(100, 1, [100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90])).toBe(88)
  // The first page needs no walk: the seek skips the missing rows by itself.
  expect(pageUpperSeq(100, 0, [100, 99])).toBe(100)
  expect(pageUpperSeq(100, 1, [99])).toBe(99)
  expect(pageUpperSeq(100, 1, [50])).toBe(99)
})
