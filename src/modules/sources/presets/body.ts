/**
 * A sender's body read without I/O and without throwing: JSON, urlencoded forms and the text fields of multipart
 * forms, under the same bounds the API's body parser keeps (src/plugins/body.ts), as a value or a refusal.
 */
import { jsonShapeProblem, MAX_FORM_FIELDS, mediaType } from '../../../plugins/body'
import type { PresetAnswer, SourceRequest } from './types'

export type Refusal = Extract<PresetAnswer, { kind: 'refuse' }>

/** A value read from the body, or why it cannot be. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; refusal: Refusal }

/** The fields of a form: a name sent twice keeps its values in order. No prototype, so `__proto__` is a plain field. */
export type FormFields = Record<string, string | string[]>

/** Longest multipart boundary RFC 2046 allows. */
const MAX_BOUNDARY_LENGTH = 70

/** A refusal with a problem code the endpoint maps to its problem type. */
export function refuse(status: Refusal['status'], code: string, detail: string): Refusal {
  return { kind: 'refuse', status, code, detail }
}

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value }
}

function fail<T>(refusal: Refusal): Parsed<T> {
  return { ok: false, refusal }
}

/** The body as UTF-8 text (invalid sequences become U+FFFD, as a lenient sender's bytes would be read). */
export function bodyText(request: SourceRequest): string {
  return new TextDecoder().decode(request.body)
}

/** Whether a media type is JSON (`application/json` or any `application/*+json`). */
function isJson(type: string): boolean {
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))
}

/** A JSON text parsed; 400 when it is not JSON, 422 when it is too deep or holds too many values. */
function parseJson(text: string): Parsed<unknown> {
  const problem = jsonShapeProblem(text)
  if (problem) return fail(refuse(422, 'validation_failed', problem))
  try {
    return ok(JSON.parse(text))
  } catch (error) {
    return fail(refuse(400, 'malformed_json', `The body is not valid JSON: ${(error as Error).message}`))
  }
}

function tooManyFields<T>(): Parsed<T> {
  return fail(refuse(422, 'validation_failed', `Forms are limited to ${MAX_FORM_FIELDS} fields.`))
}

function addField(fields: FormFields, name: string, value: string): void {
  const existing = fields[name]
  if (existing === undefined) fields[name] = value
  else if (Array.isArray(existing)) existing.push(value)
  else fields[name] = [existing, value]
}

/** An urlencoded body's fields, at most MAX_FORM_FIELDS. */
function parseUrlencoded(request: SourceRequest): Parsed<FormFields> {
  const fields: FormFields = Object.create(null)
  let count = 0
  for (const [name, value] of new URLSearchParams(bodyText(request))) {
    if (++count > MAX_FORM_FIELDS) return tooManyFields()
    addField(fields, name, value)
  }
  return ok(fields)
}

/** The boundary parameter of a multipart Content-Type (quoted or not), or null. */
function boundaryOf(contentType: string): string | null {
  const match = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^;\s"]{1,70}))\s*(?:;|$)/i.exec(contentType)
  const boundary = match ? (match[1] ?? match[2]!) : null
  return boundary && boundary.length <= MAX_BOUNDARY_LENGTH ? boundary : null
}

const CRLF = Buffer.from('\r\n')
const HEADER_END = Buffer.from('\r\n\r\n')

/**
 * The text fields of a multipart/form-data body (RFC 7578), at most MAX_FORM_FIELDS parts; file parts are not lead
 * data and are skipped. Read synchronously (the platform's parser is async) with Buffer searches, linear in size.
 */
function parseMultipart(request: SourceRequest, contentType: string): Parsed<FormFields> {
  const boundary = boundaryOf(contentType)
  if (!boundary) return fail(refuse(400, 'bad_request', 'A multipart body needs one boundary parameter (1 to 70 characters) in its Content-Type.'))
  const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength)
  const delimiter = Buffer.from(`--${boundary}`)
  const separator = Buffer.concat([CRLF, delimiter])
  const fields: FormFields = Object.create(null)
  let at = body.indexOf(delimiter)
  if (at === -1) return fail(refuse(400, 'bad_request', 'The multipart body has no part delimited by its boundary.'))
  let count = 0
  for (;;) {
    const after = at + delimiter.length
    if (body[after] === 0x2d && body[after + 1] === 0x2d) return ok(fields) // the closing `--boundary--`
    if (++count > MAX_FORM_FIELDS) return tooManyFields()
    const headersStart = body.indexOf(CRLF, after)
    const headersEnd = body.indexOf(HEADER_END, after)
    const next = body.indexOf(separator, after)
    if (headersStart === -1 || headersEnd === -1 || next === -1 || headersEnd > next)
      return fail(refuse(400, 'bad_request', 'The multipart body could not be parsed: a part is not closed by its boundary.'))
    const headers = body.subarray(headersStart + CRLF.length, headersEnd).toString('utf8')
    const disposition = /^content-disposition:\s*form-data\s*;(.*)$/im.exec(headers)?.[1] ?? ''
    const name = /(?:^|;)\s*name\s*=\s*"([^"]*)"/i.exec(disposition)?.[1] ?? /(?:^|;)\s*name\s*=\s*([^;\s]+)/i.exec(disposition)?.[1]
    const isFile = /(?:^|;)\s*filename\*?\s*=/i.test(disposition)
    if (name !== undefined && !isFile) addField(fields, name, body.subarray(headersEnd + HEADER_END.length, next).toString('utf8'))
    at = next + CRLF.length
  }
}

/** The shapes a flat-field body arrives in. */
export type FlatBody = { type: 'json'; value: unknown } | { type: 'form'; value: FormFields }

/**
 * A body in any of the shapes form and automation tools send: JSON, urlencoded or multipart form; 415 for any other
 * content type, 400 for an empty body (a tool's test call with no fields is refused clearly rather than stored).
 */
export function parseFlatBody(request: SourceRequest): Parsed<FlatBody> {
  const header = request.headers.get('content-type') ?? ''
  const type = mediaType(header)
  if (request.body.byteLength === 0) return fail(refuse(400, 'bad_request', 'The body is empty; send the lead as JSON or as a form.'))
  if (isJson(type)) {
    const parsed = parseJson(bodyText(request))
    return parsed.ok ? ok({ type: 'json', value: parsed.value }) : parsed
  }
  const form = type === 'application/x-www-form-urlencoded' ? parseUrlencoded(request) : type === 'multipart/form-data' ? parseMultipart(request, header) : null
  if (form === null)
    return fail(
      refuse(
        415,
        'unsupported_media_type',
        `Content-Type '${type || '(none)'}' is not supported here; send application/json, application/x-www-form-urlencoded or multipart/form-data.`,
      ),
    )
  return form.ok ? ok({ type: 'form', value: form.value }) : form
}

/** The body as JSON only (`text`: the body as the preset read it): 415 for another content type, 400 when empty. */
export function parseJsonBody(request: SourceRequest, text = bodyText(request)): Parsed<unknown> {
  const type = mediaType(request.headers.get('content-type'))
  if (!isJson(type)) return fail(refuse(415, 'unsupported_media_type', `Content-Type '${type || '(none)'}' is not supported here; send application/json.`))
  if (request.body.byteLength === 0) return fail(refuse(400, 'bad_request', 'The body is empty; send the JSON payload.'))
  return parseJson(text)
}
