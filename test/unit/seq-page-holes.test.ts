/** pageUpperSeq and pageUpperSeqFromBottom: page N's upper seq over a sequence with erased holes, checked against counting. */
import { expect, test } from 'bun:test'
import fc from 'fast-check'
import { pageUpperSeq, pageUpperSeqFromBottom } from '../../src/db/seq-page'
import { useTestTimeout } from '../timeout'

useTestTimeout()

test('both walks start the page at the live row `skip` rows from the top', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.array(fc.integer({ min: 1, max: 300 })), fc.nat(300), (high, holes, skipWanted) => {
      const erased = [...new Set(holes.filter((s) => s <= high))].sort((a, b) => b - a)
      const total = high - erased.length
      const skip = Math.min(skipWanted, Math.max(0, total - 1))
      if (total === 0) return
      const live = Array.from({ length: high }, (_, i) => i + 1).filter((s) => !erased.includes(s))
      // The page's first row (the highest live seq at or below the bound) is the one `skip` live rows from the top.
      const firstRow = (upper: number) => live.filter((s) => s <= upper).at(-1)
      const want = live.at(-1 - skip)
      expect(firstRow(pageUpperSeq(high, skip, erased))).toBe(want)
      expect(firstRow(pageUpperSeqFromBottom(total, skip, [...erased].reverse()))).toBe(want)
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

test('from the bottom, a run of erased seqs below the start is crossed in one walk', () => {
  // seqs 1..100 with 1..10 erased: 90 live; skipping 89 leaves the oldest live row, 11.
  expect(pageUpperSeqFromBottom(90, 89, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toBe(11)
  expect(pageUpperSeqFromBottom(90, 0, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toBe(100)
})
