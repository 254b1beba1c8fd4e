/**
 * Facebook Lead Ads names each new lead only by its `leadgen_id`; the lead itself is read from the Graph API
 * (`GET {ASKAD_FACEBOOK_GRAPH_URL}/{id}?access_token=…`) with the page access token the source holds. The token
 * travels in the query, as Facebook documents it: no URL of these requests is ever logged.
 */
import type { AppDeps } from '../../deps'

/**
 * All of a delivery's leads must be read within this, or the fetch failed (Facebook then retries the notification).
 * One budget for the delivery, not one per lead, and below the 10 s Bun.serve lets a connection stay silent (its
 * default idleTimeout): past that the sender's connection is dropped while the leads would still be stored, and
 * Facebook, seeing a failure, would send them again.
 */
export const GRAPH_DEADLINE_MS = 8_000

/** Largest Graph answer read for one lead; a lead's field data is a few kilobytes. */
const MAX_GRAPH_BODY_BYTES = 256 * 1024

/** The outcome of fetching a delivery's leads: every record, or why not. */
export type GraphFetch =
  | { ok: true; records: unknown[] }
  /** `retry`: Facebook should send the notification again (Graph unreachable or failing); else a lasting refusal (bad token, no permission). */
  | { ok: false; retry: boolean; detail: string; status: number | null }

/** Reads one lead; the token only in the request, never in what is returned. */
async function fetchOne(
  deps: Pick<AppDeps, 'config'>,
  id: string,
  accessToken: string,
  fetcher: typeof fetch,
  deadline: { signal: AbortSignal; ms: number },
): Promise<{ ok: true; record: unknown } | Extract<GraphFetch, { ok: false }>> {
  const url = `${deps.config.facebookGraphUrl}/${encodeURIComponent(id)}?access_token=${encodeURIComponent(accessToken)}`
  let response: Response
  let text: string | null
  // The body is read under the same deadline: a Graph that sends its headers and then stalls fails like one that never answers.
  try {
    response = await fetcher(url, { signal: deadline.signal, redirect: 'error' })
    const declared = Number(response.headers.get('content-length') ?? 0)
    text = declared > MAX_GRAPH_BODY_BYTES ? null : await response.text()
  } catch (error) {
    const reason =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${deadline.ms / 1000} s for the delivery`
        : 'the Graph API could not be reached'
    return { ok: false, retry: true, status: null, detail: `Lead ${id}: ${reason}.` }
  }
  if (text === null || text.length > MAX_GRAPH_BODY_BYTES)
    return { ok: false, retry: false, status: response.status, detail: `Lead ${id}: the Graph API answer is too large.` }
  if (!response.ok) {
    // Graph explains a refusal in error.message (an expired token, a missing leads_retrieval permission); it never echoes the token.
    let message = ''
    try {
      message = String((JSON.parse(text) as { error?: { message?: unknown } }).error?.message ?? '')
    } catch {}
    return {
      ok: false,
      retry: response.status >= 500 || response.status === 429,
      status: response.status,
      detail: `Lead ${id}: the Graph API answered ${response.status}${message ? `: ${message.slice(0, 200)}` : ''}.`,
    }
  }
  try {
    return { ok: true, record: JSON.parse(text) as unknown }
  } catch {
    return { ok: false, retry: true, status: response.status, detail: `Lead ${id}: the Graph API answer is not JSON.` }
  }
}

/** Fetches each lead in turn (a notification names one or a few), all within `deadlineMs`; stops at the first failure. */
export async function fetchGraphLeads(
  deps: Pick<AppDeps, 'config'>,
  ids: string[],
  accessToken: string,
  fetcher: typeof fetch = fetch,
  deadlineMs = GRAPH_DEADLINE_MS,
): Promise<GraphFetch> {
  const deadline = { signal: AbortSignal.timeout(deadlineMs), ms: deadlineMs }
  const records: unknown[] = []
  for (const id of ids) {
    const one = await fetchOne(deps, id, accessToken, fetcher, deadline)
    if (!one.ok) return one
    records.push(one.record)
  }
  return { ok: true, records }
}
