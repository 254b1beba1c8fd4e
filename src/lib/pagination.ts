/**
 * The one pagination helper: `?page=&limit=` (or an opaque `?after=` cursor) → a validated
 * request, and rows → the `{data, pagination}` envelope plus an RFC 8288 Link header.
 */
import { t } from 'elysia'
import { invalid } from '../errors'
import { COMPONENT_KEY, component, queryInteger } from './model-fields'

export const DEFAULT_LIMIT = 50
export const MAX_LIMIT = 200
/** Highest page number accepted; keeps page × limit far inside safe integers. */
const MAX_PAGE = 10_000_000

/** Query parameters shared by every list endpoint (strings on the wire, checked by parsePageQuery). */
export const pageQuery = {
  page: queryInteger({ minimum: 1, maximum: MAX_PAGE, default: 1, description: 'Page number, starting at 1 (default 1).' }),
  limit: queryInteger({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: `Items per page, 1–${MAX_LIMIT} (default ${DEFAULT_LIMIT}).` }),
  after: t.Optional(
    t.String({ description: 'Opaque cursor from `pagination.next_cursor`: the items after it, for jobs that walk everything. Replaces `page`.' }),
  ),
}

export interface PageRequest {
  page: number
  limit: number
  /** Sequence number the cursor points after (exclusive), when `after` was given. */
  afterSeq: number | null
}

function positiveInt(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (!/^[0-9]+$/.test(value)) throw invalid(`query.${name}`, 'must be a whole number')
  const n = Number(value)
  if (n < 1 || n > max) throw invalid(`query.${name}`, `must be between 1 and ${max}`)
  return n
}

function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString('base64url')
}

function decodeCursor(cursor: string): number {
  const match = /^s:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString())
  if (!match) throw invalid('query.after', 'is not a cursor returned by this API')
  return Number(match[1])
}

/** Checks `page`, `limit` and `after` (422 at `query.<name>`) and turns them into a PageRequest. */
export function parsePageQuery(query: { page?: string; limit?: string; after?: string }): PageRequest {
  const limit = positiveInt('limit', query.limit, DEFAULT_LIMIT, MAX_LIMIT)
  if (query.after !== undefined) {
    if (query.page !== undefined) throw invalid('query.after', 'cannot be combined with page')
    return { page: 1, limit, afterSeq: decodeCursor(query.after) }
  }
  return { page: positiveInt('page', query.page, 1, MAX_PAGE), limit, afterSeq: null }
}

export interface Page<T> {
  data: T[]
  pagination: { page: number | null; limit: number; total: number; has_more: boolean; next_cursor: string | null }
}

/** The `pagination` object of every list, one named schema in the OpenAPI document. */
const paginationSchema = component(
  'Pagination',
  t.Object({
    page: t.Union([t.Integer(), t.Null()], { description: 'Current page; null when walking with a cursor.' }),
    limit: t.Integer(),
    total: t.Integer({ description: 'Exact number of items matching the filters.' }),
    has_more: t.Boolean(),
    next_cursor: t.Union([t.String(), t.Null()], { description: 'Pass as `after` to get the following items; null at the end.' }),
  }),
)

/** Response schema of the envelope around an item schema; a named item (`Contact`) names its list (`ContactList`). */
export function pageSchema<T extends ReturnType<typeof t.Object>>(item: T) {
  const envelope = t.Object({ data: t.Array(item), pagination: paginationSchema })
  const name = (item as Record<string, unknown>)[COMPONENT_KEY]
  return typeof name === 'string' ? component(`${name}List`, envelope) : envelope
}

/**
 * Builds the envelope. `rows` carry their sequence number; `hasMore` is known by the caller
 * (it fetched limit + 1 rows, or knows the total).
 */
export function buildPage<T>(req: PageRequest, rows: { seq: number; item: T }[], total: number, hasMore: boolean): Page<T> {
  const last = rows.at(-1)
  return {
    data: rows.map((r) => r.item),
    pagination: {
      page: req.afterSeq === null ? req.page : null,
      limit: req.limit,
      total,
      has_more: hasMore,
      next_cursor: hasMore && last ? encodeCursor(last.seq) : null,
    },
  }
}

/**
 * Every item of a list, a page at a time along its cursor (constant memory, holes in the seqs
 * skipped by the list itself). The first page is read now, so bad filters fail before anything is
 * sent; the rest as the consumer asks.
 */
export async function allPages<T>(read: (req: PageRequest) => Promise<Page<T>>, limit: number): Promise<AsyncGenerator<T[]>> {
  const first = await read({ page: 1, limit, afterSeq: null })
  return (async function* () {
    let page = first
    for (;;) {
      if (page.data.length > 0) yield page.data
      if (!page.pagination.next_cursor) return
      page = await read({ page: 1, limit, afterSeq: decodeCursor(page.pagination.next_cursor) })
    }
  })()
}

/** RFC 8288 Link header: first, prev, next and last page links (or next by cursor). */
function linkHeader(requestUrl: string, page: Page<unknown>): string {
  const url = new URL(requestUrl)
  const link = (params: Record<string, string | null>, rel: string) => {
    const target = new URL(url)
    for (const [k, v] of Object.entries(params)) v === null ? target.searchParams.delete(k) : target.searchParams.set(k, v)
    return `<${target.pathname}${target.search}>; rel="${rel}"`
  }
  const { page: current, limit, total, has_more, next_cursor } = page.pagination
  if (current === null) return next_cursor ? link({ after: next_cursor, page: null }, 'next') : ''
  const lastPage = Math.max(1, Math.ceil(total / limit))
  const links = [link({ page: '1', after: null }, 'first')]
  if (current > 1) links.push(link({ page: String(Math.min(current - 1, lastPage)), after: null }, 'prev'))
  if (has_more) links.push(link({ page: String(current + 1), after: null }, 'next'))
  links.push(link({ page: String(lastPage), after: null }, 'last'))
  return links.join(', ')
}

/** Sets the Link header of a list response (when there are links) and returns the page, for list routes. */
export function sendPage<T>(requestUrl: string, set: { headers: Record<string, unknown> }, page: Page<T>): Page<T> {
  const link = linkHeader(requestUrl, page)
  if (link) set.headers.link = link
  return page
}
