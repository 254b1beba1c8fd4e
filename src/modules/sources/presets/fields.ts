/**
 * Flat fields to a lead: our own names (`email, phone, first_name, last_name, source, metadata`) and the spellings
 * form and automation tools use for them (`Email`, `email_address`, `First Name`, `firstname`, `mobile`, `full_name`…).
 * Every other field is kept in metadata, as `POST /leads/inbound` keeps unknown top-level fields.
 */
import { type Parsed, refuse } from './body'
import type { LeadDraft } from './types'

type Field = 'email' | 'phone' | 'firstName' | 'lastName' | 'fullName' | 'source' | 'metadata'

/** Our field for a sender's key, by the key lower-cased without spaces, `_`, `-` and `.`. */
const ALIASES: Record<string, Field> = {
  email: 'email',
  emailaddress: 'email',
  mail: 'email',
  phone: 'phone',
  phonenumber: 'phone',
  mobile: 'phone',
  mobilephone: 'phone',
  mobilenumber: 'phone',
  telephone: 'phone',
  tel: 'phone',
  firstname: 'firstName',
  givenname: 'firstName',
  fname: 'firstName',
  lastname: 'lastName',
  surname: 'lastName',
  familyname: 'lastName',
  lname: 'lastName',
  name: 'fullName',
  fullname: 'fullName',
  source: 'source',
  metadata: 'metadata',
}

/** A sender's key as ALIASES lists it. */
function aliasKey(key: string): string {
  return key.toLowerCase().replace(/[\s_.-]+/g, '')
}

/** Our field a sender's key stands for, if any. */
export function fieldOf(key: string): Field | undefined {
  return Object.hasOwn(ALIASES, aliasKey(key)) ? ALIASES[aliasKey(key)] : undefined
}

/** A plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * A person field's value as text: strings trimmed (blank is absent, as tools send unfilled fields as ''), numbers as
 * written (a phone number sent as a JSON number); anything else is a 422 naming the field at `path`.
 */
export function textOf(value: unknown, path: string): Parsed<string | null> {
  if (value === null || value === undefined) return { ok: true, value: null }
  if (typeof value === 'string') return { ok: true, value: value.trim() || null }
  if (typeof value === 'number' && Number.isFinite(value)) return { ok: true, value: String(value) }
  const got = Array.isArray(value) ? `${value.length} values` : typeof value === 'object' ? 'an object' : `a ${typeof value}`
  return { ok: false, refusal: refuse(422, 'validation_failed', `${path} must be one text value; got ${got}.`) }
}

/** "Jane van Dyke" → first "Jane", last "van Dyke"; one word is a first name. */
export function splitName(full: string): { firstName: string; lastName: string | null } {
  const [first, ...rest] = full.trim().split(/\s+/)
  return { firstName: first!, lastName: rest.join(' ') || null }
}

/** What the mapping of one record found, before it becomes a draft. */
interface Found {
  email: string | null
  phone: string | null
  firstName: string | null
  lastName: string | null
  fullName: string | null
  source: string | null
}

/**
 * One flat record as a lead. The first key for each of our fields wins (a second spelling is kept in metadata);
 * `name`/`full_name` is split into first and last when neither was given; a `metadata` object is merged over the
 * unknown fields, as `POST /leads/inbound` does. `path` prefixes field names in refusals (e.g. `/0` in an array).
 */
export function mapFlat(record: Record<string, unknown>, path = ''): Parsed<LeadDraft> {
  const found: Found = { email: null, phone: null, firstName: null, lastName: null, fullName: null, source: null }
  const taken = new Set<Field>()
  // Through a Map and Object.fromEntries: a key named `__proto__` stays a plain field.
  const unknown = new Map<string, unknown>()
  let explicit: Record<string, unknown> | null = null
  let fullNameKey = ''
  for (const [key, value] of Object.entries(record)) {
    const field = fieldOf(key)
    if (field === undefined || taken.has(field)) {
      unknown.set(key, value)
      continue
    }
    taken.add(field)
    if (field === 'metadata') {
      if (isRecord(value)) explicit = value
      else unknown.set(key, value)
      continue
    }
    const text = textOf(value, `${path}/${key}`)
    if (!text.ok) return text
    found[field] = text.value
    if (field === 'fullName') fullNameKey = key
  }
  if (found.fullName !== null) {
    if (found.firstName === null && found.lastName === null) Object.assign(found, splitName(found.fullName))
    else unknown.set(fullNameKey, record[fullNameKey])
  }
  const metadata = Object.fromEntries([...unknown, ...Object.entries(explicit ?? {})])
  return { ok: true, value: draftOf(found, metadata) }
}

/** A draft from found person fields; `source` only when the sender named one (else the endpoint uses the preset's). */
export function draftOf(found: Omit<Found, 'fullName'>, metadata: Record<string, unknown>): LeadDraft {
  const draft: LeadDraft = { email: found.email, phone: found.phone, firstName: found.firstName, lastName: found.lastName, metadata }
  if (found.source !== null) draft.source = found.source
  return draft
}
