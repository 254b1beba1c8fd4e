/**
 * The flat-field presets: `generic` and the automation tools (Zapier, Make, n8n), which send whatever fields the
 * user maps, as JSON or as a form. None of them signs; a source with a secret expects it back in SECRET_HEADER,
 * a header each of these tools lets the user add to its HTTP request.
 */
import { parseFlatBody, refuse, type Refusal } from './body'
import { isRecord, mapFlat } from './fields'
import { safeEqual } from './signature'
import type { LeadDraft, Preset, PresetAnswer, PresetName, SourceRequest, SourceSecrets } from './types'

/** The header carrying a flat-field source's secret, verbatim. */
export const SECRET_HEADER = 'X-Askad-Secret'

/** Most leads one call may carry as a JSON array (Zapier's "wrap request in array", a batch from a script). */
export const MAX_LEADS_PER_REQUEST = 100

/** 405 for a GET: only Facebook's subscription handshake reads a GET. */
export function postOnly(request: SourceRequest): Refusal | null {
  return request.method === 'POST' ? null : refuse(405, 'method_not_allowed', 'This source takes leads by POST only.')
}

/** 401 unless the request carries the source's secret in SECRET_HEADER; null when it does or the source has none. */
export function checkSharedSecret(request: SourceRequest, secrets: SourceSecrets): Refusal | null {
  if (secrets.signingSecret === null) return null
  const given = request.headers.get(SECRET_HEADER)
  if (given === null)
    return refuse(401, 'unauthorized', `Missing ${SECRET_HEADER} header: this source has a secret; add the header with the secret to the request.`)
  if (!safeEqual(given.trim(), secrets.signingSecret)) return refuse(401, 'unauthorized', `The ${SECRET_HEADER} header does not match this source's secret.`)
  return null
}

/** The leads of a flat body: a JSON object or form is one lead, a JSON array of objects one lead each. */
function flatLeads(request: SourceRequest): PresetAnswer {
  const parsed = parseFlatBody(request)
  if (!parsed.ok) return parsed.refusal
  const { value } = parsed.value
  if (parsed.value.type === 'form' || isRecord(value)) {
    const lead = mapFlat(value as Record<string, unknown>)
    return lead.ok ? { kind: 'leads', leads: [lead.value] } : lead.refusal
  }
  if (!Array.isArray(value)) return refuse(422, 'validation_failed', 'The JSON body must be an object (one lead) or an array of objects (several).')
  if (value.length > MAX_LEADS_PER_REQUEST)
    return refuse(422, 'validation_failed', `The array holds ${value.length} leads; one request may carry at most ${MAX_LEADS_PER_REQUEST}.`)
  const leads: LeadDraft[] = []
  for (const [index, item] of value.entries()) {
    if (!isRecord(item)) return refuse(422, 'validation_failed', `/${index} must be an object (one lead).`)
    const lead = mapFlat(item, `/${index}`)
    if (!lead.ok) return lead.refusal
    leads.push(lead.value)
  }
  return { kind: 'leads', leads }
}

/** A flat-field preset for one tool. */
export function flatPreset(name: PresetName, title: string): Preset {
  return {
    name,
    title,
    signingSecret: 'optional',
    verifyToken: false,
    handle: (request, secrets) => postOnly(request) ?? checkSharedSecret(request, secrets) ?? flatLeads(request),
  }
}
