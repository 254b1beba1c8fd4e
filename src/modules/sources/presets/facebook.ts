/**
 * Facebook Lead Ads through a Page webhook. Subscribing, Facebook sends a GET with `hub.mode=subscribe`,
 * `hub.verify_token` and `hub.challenge`, to be echoed. A new lead is a POST signed with
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed with the app secret>` that carries only
 * `leadgen_id`s: the endpoint fetches each lead from the Graph API and maps it with `mapFetched`.
 */
import { bodyText, parseJsonBody, type Parsed, refuse, type Refusal } from './body'
import { draftOf, isRecord, splitName, textOf } from './fields'
import { MAX_LEADS_PER_REQUEST } from './flat'
import { hmacSha256, safeEqual } from './signature'
import type { LeadDraft, Preset, PresetAnswer, SourceRequest, SourceSecrets } from './types'

export const SIGNATURE_HEADER = 'X-Hub-Signature-256'
const SIGNATURE_PREFIX = 'sha256='

/** The answer to Facebook's subscription handshake: the challenge echoed when the verify token matches. */
function verifySubscription(request: SourceRequest, secrets: SourceSecrets): PresetAnswer {
  let query: URLSearchParams
  try {
    query = new URL(request.url).searchParams
  } catch {
    return refuse(400, 'bad_request', 'The request URL could not be read.')
  }
  if (query.get('hub.mode') !== 'subscribe' || query.get('hub.challenge') === null)
    return refuse(400, 'bad_request', 'A GET here is only for the Facebook webhook handshake (hub.mode=subscribe with hub.challenge).')
  const token = query.get('hub.verify_token')
  if (secrets.verifyToken === null || token === null || !safeEqual(token, secrets.verifyToken))
    return refuse(403, 'forbidden', "hub.verify_token does not match this source's verify token: paste the same token into the app's Webhooks settings.")
  return { kind: 'reply', status: 200, contentType: 'text/plain', body: query.get('hub.challenge')! }
}

/** 401 unless X-Hub-Signature-256 is the body's signature with the app secret. */
function checkFacebookSignature(request: SourceRequest, secrets: SourceSecrets): Refusal | null {
  if (secrets.signingSecret === null)
    return refuse(401, 'unauthorized', "This source has no app secret to check Facebook's signature with; create it again with the app secret.")
  const signature = request.headers.get(SIGNATURE_HEADER)
  if (signature === null) return refuse(401, 'unauthorized', `Missing ${SIGNATURE_HEADER} header: only Facebook's signed webhook calls are accepted here.`)
  const expected = SIGNATURE_PREFIX + hmacSha256(secrets.signingSecret, request.body, 'hex')
  if (!safeEqual(signature.trim().toLowerCase(), expected))
    return refuse(401, 'unauthorized', `The ${SIGNATURE_HEADER} header does not match: the source's secret must be the Facebook app's App Secret.`)
  return null
}

/** Graph ids written as JSON numbers (older payloads) exceed 2^53: quote them before parsing so no digit is lost. */
const NUMERIC_ID = /(?<!\\)"(leadgen_id|page_id|form_id|ad_id|adgroup_id|id)"(\s*:\s*)(\d{16,})/g

function quoteLongIds(text: string): string {
  return text.replace(NUMERIC_ID, '"$1"$2"$3"')
}

/** Person fields of a lead form, by their Graph API field name. */
const PERSON_FIELDS: Record<string, 'email' | 'phone' | 'firstName' | 'lastName' | 'fullName'> = {
  email: 'email',
  phone_number: 'phone',
  first_name: 'firstName',
  last_name: 'lastName',
  full_name: 'fullName',
}

/**
 * A Graph API lead (`{id, created_time, field_data: [{name, values}], ad_id, form_id…}`) as a lead: the standard
 * questions to the person, custom questions and the record's ids to metadata. null when it is not a lead record.
 */
function mapLeadRecord(record: unknown): Parsed<LeadDraft> | null {
  if (!isRecord(record) || !Array.isArray(record.field_data)) return null
  const found = { email: null as string | null, phone: null as string | null, firstName: null as string | null, lastName: null as string | null }
  let fullName: string | null = null
  const metadata = new Map<string, unknown>()
  for (const [index, field] of record.field_data.entries()) {
    if (!isRecord(field) || typeof field.name !== 'string')
      return { ok: false, refusal: refuse(422, 'validation_failed', `/field_data/${index} must be an object with a name.`) }
    const values = Array.isArray(field.values) ? field.values : []
    const value = values.length === 1 ? values[0] : values
    const person = Object.hasOwn(PERSON_FIELDS, field.name) ? PERSON_FIELDS[field.name]! : null
    if (person !== null && (person === 'fullName' ? fullName === null : found[person] === null)) {
      const text = textOf(values[0] ?? null, `/field_data/${index}/values/0`)
      if (!text.ok) return text
      if (person === 'fullName') fullName = text.value
      else found[person] = text.value
      continue
    }
    metadata.set(field.name, value)
  }
  if (fullName !== null) {
    if (found.firstName === null && found.lastName === null) Object.assign(found, splitName(fullName))
    else metadata.set('full_name', fullName)
  }
  for (const [key, value] of Object.entries(record)) {
    if (key === 'field_data') continue
    metadata.set(key === 'id' ? 'facebook_lead_id' : key, value)
  }
  return { ok: true, value: draftOf({ ...found, source: null }, Object.fromEntries(metadata)) }
}

/** A POST: the leadgen ids to fetch, or leads a forwarder already inlined (`field_data`). */
function notification(request: SourceRequest): PresetAnswer {
  const parsed = parseJsonBody(request, quoteLongIds(bodyText(request)))
  if (!parsed.ok) return parsed.refusal
  const body = parsed.value
  const inlined = Array.isArray(body) ? body : [body]
  if (inlined.length > 0 && inlined.every((item) => isRecord(item) && Array.isArray(item.field_data))) {
    if (inlined.length > MAX_LEADS_PER_REQUEST) return refuse(422, 'validation_failed', `One request may carry at most ${MAX_LEADS_PER_REQUEST} leads.`)
    const leads: LeadDraft[] = []
    for (const item of inlined) {
      const lead = mapLeadRecord(item)!
      if (!lead.ok) return lead.refusal
      leads.push(lead.value)
    }
    return { kind: 'leads', leads }
  }
  if (!isRecord(body) || !Array.isArray(body.entry))
    return refuse(422, 'validation_failed', 'Not a Facebook Page webhook: the body needs an entry array (object "page", field "leadgen").')
  const ids: string[] = []
  for (const entry of body.entry) {
    const changes = isRecord(entry) && Array.isArray(entry.changes) ? entry.changes : []
    for (const change of changes) {
      if (!isRecord(change) || change.field !== 'leadgen' || !isRecord(change.value)) continue
      const id = change.value.leadgen_id
      if (typeof id === 'string' && /^\d{1,32}$/.test(id)) ids.push(id)
      else if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) ids.push(String(id))
      else return refuse(422, 'validation_failed', 'A leadgen change has no valid leadgen_id.')
    }
  }
  if (ids.length > MAX_LEADS_PER_REQUEST) return refuse(422, 'validation_failed', `One request may name at most ${MAX_LEADS_PER_REQUEST} leads.`)
  // Changes to other Page fields carry no lead: acknowledged with nothing to store, so Facebook does not retry them.
  return ids.length === 0 ? { kind: 'leads', leads: [] } : { kind: 'fetch', ids: [...new Set(ids)] }
}

export const facebook: Preset = {
  name: 'facebook',
  title: 'Facebook Lead Ads',
  signingSecret: 'required',
  verifyToken: true,
  handle(request, secrets) {
    if (request.method === 'GET') return verifySubscription(request, secrets)
    return checkFacebookSignature(request, secrets) ?? notification(request)
  },
  mapFetched(record) {
    const lead = mapLeadRecord(record)
    return lead?.ok ? lead.value : null
  },
}
