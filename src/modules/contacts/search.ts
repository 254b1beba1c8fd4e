/**
 * Contact search (`?q=`): what a query matches, and how a page of matches is cut, alike on both engines.
 *
 * A query matches a contact when it is a case-insensitive prefix of its email, of its full name
 * ("first last"; so also of its first name), or of its last name, or, for a query made of phone
 * characters, when its digits are a prefix of the phone's digits. Each of these is one range over
 * one index (the "arms"), so a rare prefix costs a few index entries at any size. Each arm's matches
 * are counted up to SEARCH_COUNT_LIMIT + 1 in the database: when all stay within it their seqs are
 * read and merged here and the total is exact; when one passes it the prefix is common (at least
 * 1 % of a million contacts), so the newest matches are found by walking the contacts newest first,
 * and `total` is reported as SEARCH_COUNT_LIMIT (read "at least") with page numbers reaching that far.
 */
import { invalid } from '../../errors'
import type { PageRequest } from '../../lib/pagination'

/** Matches counted exactly per arm; past it a search is "common" and its total is this number. */
export const SEARCH_COUNT_LIMIT = 10_000

/** Longest accepted query. */
export const MAX_SEARCH_LENGTH = 100

/** Sorts after every character, so `[prefix, prefix + PREFIX_END)` is the range of strings starting with prefix (in byte order). */
const PREFIX_END = '\u{10FFFF}'

/** A string range `[from, to)`: every value that starts with a prefix. */
export interface PrefixRange {
  from: string
  to: string
}

/** A checked query, as the stores turn it into index ranges. */
export interface SearchTerms {
  /** The query in NFC, trimmed, runs of white space as one space: lower-cased by the database, as names are. */
  name: PrefixRange
  /** The query lower-cased as emails are stored (normaliseEmail: it is already trimmed and NFC); null when it cannot start an email (it has a space). */
  email: PrefixRange | null
  /** Phone prefixes (with and without '+') for a query of phone characters; empty otherwise. */
  phones: PrefixRange[]
}

function prefix(value: string): PrefixRange {
  return { from: value, to: value + PREFIX_END }
}

/** Digits, spaces, '+', '-', '.', '(' and ')': what people type for a phone number. */
const PHONE_QUERY = /^\+?[\d\s().-]+$/

/** The search terms of `q`, or null when it is absent or blank (no search); 422 at query.q when too long or holding control characters. */
export function parseSearch(q: string | undefined): SearchTerms | null {
  if (q === undefined) return null
  const text = q.normalize('NFC').trim().replace(/\s+/g, ' ')
  if (text === '') return null
  if (text.length > MAX_SEARCH_LENGTH) throw invalid('query.q', `must be at most ${MAX_SEARCH_LENGTH} characters`)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(text)) throw invalid('query.q', 'must not contain control characters')
  const digits = text.replace(/\D/g, '')
  const phones = PHONE_QUERY.test(text) && digits !== '' ? [prefix(`+${digits}`), prefix(digits)] : []
  return { name: prefix(text), email: text.includes(' ') ? null : prefix(text.toLowerCase()), phones }
}

/** One page of search results, cut from what the arms found. */
export type SearchPlan =
  /** Every arm stayed within the limit: the page's seqs, newest first, and the exact total. */
  | { kind: 'exact'; seqs: number[]; total: number; hasMore: boolean }
  /** An arm passed the limit: walk the contacts newest first from `beforeSeq` (exclusive; null from the newest), skipping `skip` matches. */
  | { kind: 'walk'; beforeSeq: number | null; skip: number; take: number; total: number }
  /** A page number past the matches that page numbers reach. */
  | { kind: 'empty'; total: number }

/** Whether the arms' bounded counts make a search common (see the file comment). */
export function isCommon(counts: number[]): boolean {
  return counts.some((n) => n > SEARCH_COUNT_LIMIT)
}

/** Cuts the page `req` asks for from the seqs the arms matched, or, for a common search (null), plans the walk. */
export function planSearchPage(arms: number[][] | null, req: PageRequest): SearchPlan {
  if (arms === null) {
    const total = SEARCH_COUNT_LIMIT
    if (req.afterSeq !== null) return { kind: 'walk', beforeSeq: req.afterSeq, skip: 0, take: req.limit, total }
    const skip = (req.page - 1) * req.limit
    if (skip >= total) return { kind: 'empty', total }
    return { kind: 'walk', beforeSeq: null, skip, take: Math.min(req.limit, total - skip), total }
  }
  const all = [...new Set(arms.flat())].sort((a, b) => b - a)
  const start = req.afterSeq === null ? (req.page - 1) * req.limit : firstBelow(all, req.afterSeq)
  const seqs = all.slice(start, start + req.limit)
  return { kind: 'exact', seqs, total: all.length, hasMore: start + req.limit < all.length }
}

/** Index of the first seq below `seq` in a descending list (binary search). */
function firstBelow(descending: number[], seq: number): number {
  let lo = 0
  let hi = descending.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (descending[mid]! >= seq) lo = mid + 1
    else hi = mid
  }
  return lo
}
