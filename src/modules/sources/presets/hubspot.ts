/**
 * HubSpot workflows' "Send a webhook" action: the whole contact record (`properties: {name: {value}}`, the shape of
 * HubSpot's contact records) or a customised body of flat properties (`firstname`, `lastname`, `email`, `phone`).
 * Signed with the v3 scheme when the action uses a request signature: X-HubSpot-Signature-v3 is the base64
 * HMAC-SHA256, keyed with the app's client secret, of method + URI + body + X-HubSpot-Request-Timestamp (ms).
 */
import { METADATA_MAX_BYTES, METADATA_MAX_KEYS, metadataBytes } from '../../../lib/metadata'
import { bodyText, type Parsed, parseJsonBody, refuse, type Refusal } from './body'
import { isRecord, mapFlat } from './fields'
import { checkSharedSecret, MAX_LEADS_PER_REQUEST, postOnly, SECRET_HEADER } from './flat'
import { hmacSha256, safeEqual } from './signature'
import type { LeadDraft, Preset, SourceRequest, SourceSecrets } from './types'

export const SIGNATURE_HEADER = 'X-HubSpot-Signature-v3'
export const TIMESTAMP_HEADER = 'X-HubSpot-Request-Timestamp'
/** HubSpot's rule: refuse a signature whose timestamp is more than 5 minutes away. */
export const MAX_SIGNATURE_AGE_MS = 5 * 60 * 1000

/** The percent-encodings HubSpot decodes in the URI before signing it (its request validation guide). */
const DECODED_IN_URI: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
}

/** The URI as HubSpot signs it: the characters above decoded, nothing else. */
export function signedUri(url: string): string {
  return url.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (match) => DECODED_IN_URI[match.toUpperCase()]!)
}

/**
 * 401 unless the request is signed with the source's secret: the v3 signature (present, fresh and right) or, for
 * workflows sent without a developer app, the secret itself in SECRET_HEADER (the action's "API key" authentication).
 * null when it is, or when the source has no secret.
 */
function checkHubSpotSignature(request: SourceRequest, secrets: SourceSecrets, now: number): Refusal | null {
  if (secrets.signingSecret === null) return null
  if (request.headers.has(SECRET_HEADER)) return checkSharedSecret(request, secrets)
  const signature = request.headers.get(SIGNATURE_HEADER)
  const timestamp = request.headers.get(TIMESTAMP_HEADER)
  if (signature === null)
    return refuse(
      401,
      'unauthorized',
      `Missing ${SIGNATURE_HEADER} header: sign the workflow's webhook with your app (request signature) or send the secret in ${SECRET_HEADER}.`,
    )
  if (timestamp === null || !/^\d{1,16}$/.test(timestamp)) return refuse(401, 'unauthorized', `Missing or malformed ${TIMESTAMP_HEADER} header.`)
  if (Math.abs(now - Number(timestamp)) > MAX_SIGNATURE_AGE_MS)
    return refuse(401, 'unauthorized', `The ${TIMESTAMP_HEADER} is more than 5 minutes away from this server's clock; the request is refused as a replay.`)
  const expected = hmacSha256(secrets.signingSecret, `${request.method}${signedUri(request.url)}${bodyText(request)}${timestamp}`, 'base64')
  if (!safeEqual(signature.trim(), expected))
    return refuse(401, 'unauthorized', `The ${SIGNATURE_HEADER} header does not match: check the source's secret is the app's client secret.`)
  return null
}

/** Parts of a contact record that are histories, not lead data, and would crowd the metadata out. */
const RECORD_HISTORIES = new Set(['form-submissions', 'identity-profiles', 'list-memberships', 'merge-audits', 'merged-vids', 'associated-company'])

/** A property's value: the `{value}` of a record's property, or the flat value itself. */
function propertyValue(value: unknown): unknown {
  return isRecord(value) && 'value' in value ? value.value : value
}

/**
 * Metadata within the bounds of one lead: a workflow may send every property of the contact (hundreds, most empty),
 * and HubSpot does not retry a 4xx, so empty values are left out and the rest kept in order until a bound is reached;
 * `hubspot_dropped_fields` then counts what was left out.
 */
function boundedMetadata(entries: [string, unknown][]): Record<string, unknown> {
  const kept = new Map<string, unknown>()
  let dropped = 0
  let bytes = 2
  for (const [key, value] of entries) {
    if (value === '' || value === null || value === undefined) continue
    const size = metadataBytes({ [key]: value })
    // One key and a few bytes stay free for the count of dropped fields.
    if (kept.size >= METADATA_MAX_KEYS - 1 || bytes + size > METADATA_MAX_BYTES - 64) {
      dropped++
      continue
    }
    kept.set(key, value)
    bytes += size - 1
  }
  if (dropped > 0) kept.set('hubspot_dropped_fields', dropped)
  return Object.fromEntries(kept)
}

/**
 * One HubSpot object as a lead: its properties (either shape) flattened, record ids kept, histories left out. The
 * record's own keys (`vid`, `portal-id`) go first into the bounded metadata: they link the lead back to the contact,
 * and a record with every property set would otherwise push them past the bound.
 */
function mapHubSpotRecord(record: Record<string, unknown>, path = ''): Parsed<LeadDraft> {
  const flat: [string, unknown][] = []
  if (isRecord(record.properties)) for (const [key, value] of Object.entries(record.properties)) flat.push([key, propertyValue(value)])
  const own = new Set<string>()
  for (const [key, value] of Object.entries(record)) {
    if (key === 'properties' && isRecord(value)) continue
    if (RECORD_HISTORIES.has(key)) continue
    if (isRecord(record.properties)) own.add(key)
    flat.push([key, propertyValue(value)])
  }
  const lead = mapFlat(Object.fromEntries(flat), path)
  if (!lead.ok) return lead
  const entries = Object.entries(lead.value.metadata)
  const ownFirst = [...entries.filter(([key]) => own.has(key)), ...entries.filter(([key]) => !own.has(key))]
  return { ok: true, value: { ...lead.value, metadata: boundedMetadata(ownFirst) } }
}

export const hubspot: Preset = {
  name: 'hubspot',
  title: 'HubSpot (workflow webhook)',
  signingSecret: 'optional',
  verifyToken: false,
  handle(request, secrets, now) {
    const refusal = postOnly(request) ?? checkHubSpotSignature(request, secrets, now)
    if (refusal) return refusal
    const parsed = parseJsonBody(request)
    if (!parsed.ok) return parsed.refusal
    const records = Array.isArray(parsed.value) ? parsed.value : [parsed.value]
    if (records.length > MAX_LEADS_PER_REQUEST)
      return refuse(422, 'validation_failed', `The array holds ${records.length} records; one request may carry at most ${MAX_LEADS_PER_REQUEST}.`)
    const leads: LeadDraft[] = []
    for (const [index, record] of records.entries()) {
      const path = Array.isArray(parsed.value) ? `/${index}` : ''
      if (!isRecord(record)) return refuse(422, 'validation_failed', `${path || 'The body'} must be a JSON object (a contact's properties).`)
      if (typeof record.subscriptionType === 'string')
        return refuse(
          422,
          'validation_failed',
          'HubSpot app webhook events carry no contact fields; send leads from a workflow\'s "Send a webhook" action instead.',
        )
      const lead = mapHubSpotRecord(record, path)
      if (!lead.ok) return lead.refusal
      leads.push(lead.value)
    }
    return { kind: 'leads', leads }
  },
}
