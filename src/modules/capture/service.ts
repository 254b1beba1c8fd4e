/** Browser capture: form fields → a lead with its context, plus the origin and redirect rules that keep it safe. */
import type { ClockDeps } from '../../deps'
import { invalid } from '../../errors'
import { singleLine } from '../../lib/text'
import { authenticateKey, type ApiKey } from '../api-keys/service'
import { createLead, type Lead, type LeadDeps } from '../leads/service'

/** Source recorded when a capture does not name one. */
const DEFAULT_CAPTURE_SOURCE = 'website'

/** Body fields stored in the lead's own columns rather than in metadata. */
const PERSON_FIELDS = new Set(['email', 'phone', 'first_name', 'last_name', 'name', 'source', 'metadata'])

/** What the request itself tells about where a submission came from. */
export interface SubmissionOrigin {
  ip: string
  userAgent: string | null
  referrer: string | null
}

export type CaptureBody = Record<string, unknown>

/** Fields whose names start with `_` steer the capture (`_key`, `_redirect`, `_gotcha`) and are never stored. */
function isControlField(name: string): boolean {
  return name.startsWith('_')
}

/** Splits a full name at the first space: 'Jane van der Berg' → Jane / van der Berg. */
export function splitName(name: string | null | undefined): { firstName: string | null; lastName: string | null } {
  const words = (name ?? '').trim().split(/\s+/).filter(Boolean)
  if (words.length === 0) return { firstName: null, lastName: null }
  return { firstName: words[0]!, lastName: words.length > 1 ? words.slice(1).join(' ') : null }
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null
}

/** A honeypot counts as filled when it holds anything but blanks. */
export function honeypotFilled(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return false
  if (typeof value === 'string') return value.trim() !== ''
  if (Array.isArray(value)) return value.some(honeypotFilled)
  return true
}

/** Metadata of a capture: every data field that is not a person column, with a `metadata` object merged in. */
function captureMetadata(body: CaptureBody): Record<string, unknown> {
  // Object.fromEntries defines own fields, so a name like `constructor` is stored like any other.
  const metadata: Record<string, unknown> = Object.fromEntries(Object.entries(body).filter(([name]) => !isControlField(name) && !PERSON_FIELDS.has(name)))
  const nested = body.metadata
  if (nested && typeof nested === 'object' && !Array.isArray(nested)) return { ...metadata, ...(nested as Record<string, unknown>) }
  if (nested !== undefined) metadata.metadata = nested
  return metadata
}

/** The context stored with the lead: client IP, user agent, referrer, page URL and every utm_* field. */
function captureContext(body: CaptureBody, request: SubmissionOrigin): Record<string, unknown> {
  const context: Record<string, unknown> = {
    ip: request.ip,
    user_agent: request.userAgent,
    referrer: request.referrer,
    // A plain HTML form sends no page_url; the page that posted it is the Referer.
    page_url: text(body.page_url) ?? request.referrer,
  }
  for (const [name, value] of Object.entries(body)) {
    if (/^utm_/i.test(name)) context[name.toLowerCase()] = value
  }
  return context
}

/** Stores a captured submission as a lead through the one lead service. */
export function captureLead(deps: LeadDeps, workspaceId: string, body: CaptureBody, request: SubmissionOrigin): Promise<Lead> {
  const email = text(body.email)?.trim()
  if (!email) throw invalid('/email', 'is required')
  const name = text(body.name)
  const split = splitName(name === null ? null : singleLine(name, '/name'))
  return createLead(deps, workspaceId, 'capture', {
    email,
    phone: text(body.phone),
    firstName: text(body.first_name) ?? split.firstName,
    lastName: text(body.last_name) ?? split.lastName,
    source: text(body.source)?.trim() || DEFAULT_CAPTURE_SOURCE,
    metadata: captureMetadata(body),
    context: captureContext(body, request),
  })
}

/** True when an origin may call capture with this key: on its list, or the API's own origin. */
export function originAllowed(key: ApiKey, origin: string, ownOrigin: string): boolean {
  return origin === ownOrigin || key.allowedOrigins.includes(origin)
}

/**
 * The absolute URL `_redirect` names, resolved against the posting page, if its origin is on the
 * key's list; 422 otherwise, so the endpoint can never be used as an open redirect.
 */
export function redirectTarget(value: unknown, base: string | null, key: ApiKey): string {
  const path = '/_redirect'
  if (typeof value !== 'string' || value.trim() === '') throw invalid(path, 'must be a URL')
  let url: URL
  try {
    url = new URL(value.trim(), base ?? undefined)
  } catch {
    throw invalid(path, `'${value}' is not a URL (a relative path needs an Origin or Referer header to resolve against)`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(path, 'must be an http or https URL')
  if (!key.allowedOrigins.includes(url.origin)) throw invalid(path, `'${url.origin}' is not one of this key's allowed origins`)
  return url.href
}

/**
 * Whether a CORS preflight from `origin` may proceed. Preflights carry no Authorization header,
 * so only a `?key=` in the URL can be checked here. Without one the preflight is allowed for
 * every origin alike, and the POST that follows checks its key's list: answering by whether
 * *some* tenant lists the origin would tell anyone which sites use askad.
 */
export async function preflightAllowed(deps: ClockDeps, origin: string, presentedKey: string | null): Promise<boolean> {
  if (presentedKey === null) return true
  const result = await authenticateKey(deps, presentedKey)
  return 'key' in result && result.key.kind === 'publishable' && result.key.allowedOrigins.includes(origin)
}

/** q-value of the most specific Accept range matching a media type (0 when none matches). */
function quality(accept: string, type: string): number {
  const [major] = type.split('/')
  let best = { specificity: -1, q: 0 }
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.trim().toLowerCase().split(';')
    const specificity = range === type ? 2 : range === `${major}/*` ? 1 : range === '*/*' ? 0 : -1
    if (specificity <= best.specificity) continue
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const q = qParam ? Number(qParam.slice(2)) : 1
    best = { specificity, q: Number.isFinite(q) ? q : 0 }
  }
  return best.q
}

/** True when the Accept header ranks HTML above JSON, as a browser navigating a plain form does. */
export function prefersHtml(accept: string | null): boolean {
  if (!accept) return false
  return quality(accept, 'text/html') > quality(accept, 'application/json')
}
