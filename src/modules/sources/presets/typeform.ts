/**
 * Typeform webhooks: a `form_response` whose answers are typed (`email`, `phone_number`, `text`…) and point at the
 * form's fields by id; the name fields are found by their `ref` or title in `definition.fields`. Signed, when the
 * webhook has a secret, with `Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body>`.
 */
import { parseJsonBody, refuse, type Refusal } from './body'
import { draftOf, fieldOf, isRecord, splitName, textOf } from './fields'
import { postOnly } from './flat'
import { hmacSha256, safeEqual } from './signature'
import type { Preset, PresetAnswer, SourceRequest, SourceSecrets } from './types'

export const SIGNATURE_HEADER = 'Typeform-Signature'
const SIGNATURE_PREFIX = 'sha256='

/** 401 unless Typeform-Signature is the body's signature; null when it is (or the source has no secret). */
function checkTypeformSignature(request: SourceRequest, secrets: SourceSecrets): Refusal | null {
  if (secrets.signingSecret === null) return null
  const signature = request.headers.get(SIGNATURE_HEADER)
  if (signature === null)
    return refuse(401, 'unauthorized', `Missing ${SIGNATURE_HEADER} header: set the same secret on the Typeform webhook (Connect → Webhooks → Edit).`)
  const expected = SIGNATURE_PREFIX + hmacSha256(secrets.signingSecret, request.body, 'base64')
  if (!safeEqual(signature.trim(), expected))
    return refuse(401, 'unauthorized', `The ${SIGNATURE_HEADER} header does not match: the secret on the Typeform webhook differs from this source's.`)
  return null
}

type NameField = 'firstName' | 'lastName' | 'fullName'

/** Which name a text question asks for, from its ref (`first_name`) or its title ("What is your first name?"). */
function nameFieldOf(ref: unknown, title: unknown): NameField | null {
  const byRef = typeof ref === 'string' ? fieldOf(ref) : undefined
  if (byRef === 'firstName' || byRef === 'lastName' || byRef === 'fullName') return byRef
  if (typeof title !== 'string') return null
  const words = title.toLowerCase()
  if (/\b(first|given) ?name\b|\bprénom\b|\bvorname\b/.test(words)) return 'firstName'
  if (/\b(last|family|sur) ?name\b|\bnom de famille\b|\bnachname\b/.test(words)) return 'lastName'
  if (/\b(full|your) name\b|^\W*name\W*$/.test(words)) return 'fullName'
  return null
}

/** An answer's value, by its type: labels for choices, the typed value otherwise. */
function answerValue(answer: Record<string, unknown>): unknown {
  const type = answer.type
  if (type === 'choice' && isRecord(answer.choice)) return answer.choice.other ?? answer.choice.label ?? null
  if (type === 'choices' && isRecord(answer.choices)) {
    const labels = Array.isArray(answer.choices.labels) ? answer.choices.labels : []
    return answer.choices.other === undefined ? labels : [...labels, answer.choices.other]
  }
  return typeof type === 'string' && Object.hasOwn(answer, type) ? answer[type] : null
}

/** Typeform's variables (`[{key, type, number|text}]`) as an object. */
function variablesOf(variables: unknown): Record<string, unknown> {
  if (!Array.isArray(variables)) return {}
  const out = new Map<string, unknown>()
  for (const variable of variables)
    if (isRecord(variable) && typeof variable.key === 'string' && typeof variable.type === 'string') out.set(variable.key, variable[variable.type])
  return Object.fromEntries(out)
}

/** The lead in one form response; answers that are not the person go to metadata by their field's ref. */
function mapFormResponse(response: Record<string, unknown>): PresetAnswer {
  const definition = isRecord(response.definition) && Array.isArray(response.definition.fields) ? response.definition.fields : []
  const fields = new Map<string, Record<string, unknown>>()
  for (const field of definition) if (isRecord(field) && typeof field.id === 'string') fields.set(field.id, field)
  const found = { email: null as string | null, phone: null as string | null, firstName: null as string | null, lastName: null as string | null }
  let fullName: string | null = null
  const metadata = new Map<string, unknown>()
  const answers = Array.isArray(response.answers) ? response.answers : []
  for (const [index, answer] of answers.entries()) {
    if (!isRecord(answer)) return refuse(422, 'validation_failed', `/form_response/answers/${index} must be an object.`)
    const ref = isRecord(answer.field) ? (answer.field.ref ?? fields.get(String(answer.field.id))?.ref) : undefined
    const id = isRecord(answer.field) ? String(answer.field.id) : String(index)
    const key = typeof ref === 'string' && ref !== '' ? ref : id
    const value = answerValue(answer)
    const path = `/form_response/answers/${index}`
    const person =
      answer.type === 'email' ? 'email' : answer.type === 'phone_number' ? 'phone' : answer.type === 'text' ? nameFieldOf(ref, fields.get(id)?.title) : null
    if (person !== null) {
      const text = textOf(value, path)
      if (!text.ok) return text.refusal
      if (person === 'fullName' ? fullName === null : found[person] === null) {
        if (person === 'fullName') fullName = text.value
        else found[person] = text.value
        continue
      }
    }
    metadata.set(key, value)
  }
  if (fullName !== null) {
    if (found.firstName === null && found.lastName === null) Object.assign(found, splitName(fullName))
    else metadata.set('name', fullName)
  }
  if (isRecord(response.hidden) && Object.keys(response.hidden).length > 0) metadata.set('hidden', response.hidden)
  const variables = variablesOf(response.variables)
  if (Object.keys(variables).length > 0) metadata.set('variables', variables)
  if (isRecord(response.calculated) && response.calculated.score !== undefined) metadata.set('score', response.calculated.score)
  for (const key of ['form_id', 'token', 'submitted_at'] as const)
    if (response[key] !== undefined) metadata.set(key === 'token' ? 'response_token' : key, response[key])
  return { kind: 'leads', leads: [draftOf({ ...found, source: null }, Object.fromEntries(metadata))] }
}

export const typeform: Preset = {
  name: 'typeform',
  title: 'Typeform (webhook)',
  signingSecret: 'optional',
  verifyToken: false,
  handle(request, secrets) {
    const refusal = postOnly(request) ?? checkTypeformSignature(request, secrets)
    if (refusal) return refusal
    const parsed = parseJsonBody(request)
    if (!parsed.ok) return parsed.refusal
    const body = parsed.value
    if (!isRecord(body) || !isRecord(body.form_response))
      return refuse(422, 'validation_failed', 'Not a Typeform webhook: the body needs a form_response object.')
    // Partial responses (form_response_partial) are not leads yet; acknowledge them so Typeform does not retry.
    if (body.event_type !== undefined && body.event_type !== 'form_response') return { kind: 'leads', leads: [] }
    return mapFormResponse(body.form_response)
  },
}
