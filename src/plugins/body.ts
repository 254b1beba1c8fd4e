/**
 * The one body parser: enforces the 1 MiB limit while reading (Content-Length or not),
 * answers 415 for content types a route does not take and 400 for malformed JSON.
 * Forms are accepted only by routes that name the form parser (`parse: FORM_PARSER`: browser
 * capture, the dashboard's form posts); every other route takes JSON only.
 */
import { Elysia } from 'elysia'
import { ApiError } from '../errors'
import {
  acceptsCsv,
  acceptsForms,
  acceptsRaw,
  acceptsUpload,
  CSV_PARSER,
  FORM_PARSER,
  fromRouteTable,
  RAW_PARSER,
  UPLOAD_PARSER,
  type RouteEntry,
} from './route-table'

/** Largest request body accepted, in bytes (SPEC §9). */
const MAX_BODY_BYTES = 1024 * 1024

/** Largest CSV file a route that names the CSV parser takes (the contact import), in bytes. */
export const MAX_CSV_BODY_BYTES = 50 * 1024 * 1024

/**
 * Deepest JSON nesting accepted. Deeper bodies are refused before anything recursive walks them:
 * a few hundred thousand levels fit in 1 MiB and overflow the stack of the validator's error
 * message (a 500), and even a few thousand make that message cost seconds of CPU.
 */
export const MAX_JSON_DEPTH = 32

/**
 * Most fields one form may carry. A real lead form has a few dozen; the cap keeps the
 * unauthenticated work a form body can cause small and linear (SPEC §10).
 */
export const MAX_FORM_FIELDS = 1_000

const NO_BODY = Symbol('no body')

async function readLimited(request: Request, maxBytes = MAX_BODY_BYTES): Promise<Uint8Array> {
  const tooLarge = () => tooLargeError(maxBytes)
  const declared = request.headers.get('content-length')
  if (declared && Number(declared) > maxBytes) throw tooLarge()
  if (!request.body) return new Uint8Array()
  if (declared !== null && !request.headers.has('transfer-encoding')) {
    // HTTP framing bounds the body by its declared length: read it whole, which costs far less than
    // a stream reader per chunk (~10 % of a lead's CPU when profiled).
    const body = new Uint8Array(await request.arrayBuffer())
    if (body.byteLength > maxBytes) throw tooLarge()
    return body
  }
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength
    if (total > maxBytes) throw tooLarge()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

function tooLargeError(maxBytes: number): ApiError {
  return new ApiError('payload_too_large', `Request bodies are limited to ${maxBytes} bytes (${maxBytes / 1024 / 1024} MiB).`)
}

/** A CSV route's body: `text/csv` only (415 otherwise), up to MAX_CSV_BODY_BYTES, UTF-8 (400 otherwise), as text. */
async function parseCsvBody(request: Request): Promise<string | typeof NO_BODY> {
  const type = mediaType(request.headers.get('content-type'))
  if (type !== 'text/csv') throw new ApiError('unsupported_media_type', `Content-Type '${type || '(none)'}' is not supported here; send text/csv.`)
  const bytes = await readLimited(request, MAX_CSV_BODY_BYTES)
  if (bytes.byteLength === 0) return NO_BODY
  return utf8(bytes)
}

/** Bytes of a CSV file as text; 400 when they are not UTF-8. */
function utf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new ApiError('bad_request', 'The file is not UTF-8 text; save the CSV as UTF-8 and send it again.')
  }
}

/**
 * An upload route's body: a multipart form (415 otherwise) up to MAX_CSV_BODY_BYTES whose files are
 * kept as their UTF-8 text (400 otherwise), by field name like the other fields.
 */
async function parseUploadBody(request: Request): Promise<Record<string, string | string[]> | typeof NO_BODY> {
  const header = request.headers.get('content-type')
  if (mediaType(header) !== 'multipart/form-data')
    throw new ApiError('unsupported_media_type', `Content-Type '${mediaType(header) || '(none)'}' is not supported here; send multipart/form-data.`)
  const bytes = await readLimited(request, MAX_CSV_BODY_BYTES)
  if (bytes.byteLength === 0) return NO_BODY
  const form = await multipartForm(header!, bytes)
  const fields: [string, string][] = []
  for (const [name, value] of form.entries() as Iterable<[string, FormDataEntryValue]>)
    fields.push([name, typeof value === 'string' ? value : utf8(new Uint8Array(await (value as Blob).arrayBuffer()))])
  return formToObject(fields)
}

/**
 * Most values one JSON body may hold, counted as opening brackets and commas outside strings.
 * Parsing a 1 MiB body of 300,000 empty objects costs JSON.parse over half a second, and the
 * largest legitimate body (a lead with 32 KB of metadata) holds far fewer.
 */
export const MAX_JSON_VALUES = 20_000

/** Why a JSON text is refused before parsing, from one linear scan outside strings; null when it may be parsed. */
export function jsonShapeProblem(text: string): string | null {
  let depth = 0
  let values = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c)
        i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) return `JSON nested deeper than ${MAX_JSON_DEPTH} levels is not accepted.`
      if (++values > MAX_JSON_VALUES) return `JSON bodies may hold at most ${MAX_JSON_VALUES} values.`
    } else if (c === 0x7d || c === 0x5d) depth--
    else if (c === 0x2c && ++values > MAX_JSON_VALUES) return `JSON bodies may hold at most ${MAX_JSON_VALUES} values.`
  }
  return null
}

/** The media type of a Content-Type header, lower-cased, without parameters ('' when absent). */
export function mediaType(header: string | null): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase()
}

function tooManyFields(): ApiError {
  return new ApiError('payload_too_large', `Forms are limited to ${MAX_FORM_FIELDS} fields.`)
}

/**
 * Form fields as an object that keeps every name verbatim: it has no prototype, so names like
 * `constructor` or `__proto__` are plain fields. A repeated name collects its values in an array
 * (appended in place, so repeats cost linear time). Uploaded files are not lead data and are skipped.
 */
function formToObject(entries: Iterable<[string, FormDataEntryValue | string]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null)
  let count = 0
  for (const [key, value] of entries) {
    if (++count > MAX_FORM_FIELDS) throw tooManyFields()
    if (typeof value !== 'string') continue
    const existing = out[key]
    if (existing === undefined) out[key] = value
    else if (Array.isArray(existing)) existing.push(value)
    else out[key] = [existing, value]
  }
  return out
}

/** Counts the non-empty `&`-separated pairs of an urlencoded body, as URLSearchParams will see them. */
function urlencodedPairs(bytes: Uint8Array): number {
  let pairs = 0
  let empty = true
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x26) {
      if (!empty) pairs++
      empty = true
    } else empty = false
  }
  return empty ? pairs : pairs + 1
}

/**
 * The parameters of a Content-Type header (names lower-cased), read the way RFC 9110 writes them:
 * `; name=value` or `; name="quoted value"`. null when a parameter is malformed or repeated.
 */
function mediaTypeParameters(header: string): Map<string, string> | null {
  const params = new Map<string, string>()
  const rest = header.slice(header.indexOf(';') === -1 ? header.length : header.indexOf(';'))
  const parameter = /;\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s"]*))\s*/gy
  let at = 0
  for (let match = parameter.exec(rest); match !== null; match = parameter.exec(rest)) {
    const name = match[1]!.toLowerCase()
    if (params.has(name)) return null
    params.set(name, match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3]!)
    at = parameter.lastIndex
  }
  return at === rest.trim().length || rest.slice(at).trim() === '' ? params : null
}

/** Counts the parts of a multipart body by its boundary lines, before the parser sees it. */
function multipartParts(bytes: Uint8Array, boundary: string): number {
  const delimiter = Buffer.from(`--${boundary}`)
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let parts = -1 // the closing delimiter ends the last part without opening another
  for (let at = body.indexOf(delimiter); at !== -1; at = body.indexOf(delimiter, at + delimiter.length)) parts++
  return parts
}

/** A multipart body's fields, its parts counted (≤ MAX_FORM_FIELDS) before the parser sees it. */
async function multipartForm(contentType: string, bytes: Uint8Array): Promise<FormData> {
  const boundary = mediaTypeParameters(contentType)?.get('boundary')
  if (!boundary || boundary.length > 70)
    throw new ApiError('bad_request', 'A multipart body needs exactly one boundary parameter (1 to 70 characters) in its Content-Type.')
  if (multipartParts(bytes, boundary) > MAX_FORM_FIELDS) throw tooManyFields()
  try {
    // The parser is handed the boundary that was counted, and no other parameter.
    const counted = `multipart/form-data; boundary="${boundary.replace(/["\\]/g, '\\$&')}"`
    return await new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': counted } }).formData()
  } catch {
    throw new ApiError('bad_request', 'The multipart body could not be parsed.')
  }
}

async function parseBody(request: Request, acceptsForms: boolean): Promise<unknown> {
  const type = mediaType(request.headers.get('content-type'))
  const bytes = await readLimited(request)
  if (bytes.byteLength === 0) return NO_BODY
  if (type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))) {
    const text = new TextDecoder().decode(bytes)
    const problem = jsonShapeProblem(text)
    if (problem) throw new ApiError(problem.includes('values') ? 'payload_too_large' : 'bad_request', problem)
    try {
      return JSON.parse(text)
    } catch (error) {
      throw new ApiError('malformed_json', `The body is not valid JSON: ${(error as Error).message}`)
    }
  }
  if (acceptsForms && type === 'application/x-www-form-urlencoded') {
    if (urlencodedPairs(bytes) > MAX_FORM_FIELDS) throw tooManyFields()
    return formToObject(new URLSearchParams(new TextDecoder().decode(bytes)))
  }
  if (acceptsForms && type === 'multipart/form-data') return formToObject((await multipartForm(request.headers.get('content-type')!, bytes)).entries())
  const accepted = acceptsForms ? 'application/json, application/x-www-form-urlencoded or multipart/form-data' : 'application/json'
  throw new ApiError('unsupported_media_type', `Content-Type '${type || '(none)'}' is not supported here; send ${accepted}.`)
}

/** The parser each route of the app names, by `METHOD path` (routes that name none take JSON). */
function parserRoutesOf(routes: RouteEntry[]): Map<string, Parser> {
  const parsers = new Map<string, Parser>()
  for (const route of routes) {
    const parser = acceptsForms(route) ? 'form' : acceptsCsv(route) ? 'csv' : acceptsUpload(route) ? 'upload' : acceptsRaw(route) ? 'raw' : null
    if (parser) parsers.set(`${route.method} ${route.path}`, parser)
  }
  return parsers
}

/** Which parser a route named, beside JSON. */
type Parser = 'json' | 'form' | 'csv' | 'upload' | 'raw'

async function parse(request: Request, parser: Parser): Promise<unknown> {
  if (request.method === 'GET' || request.method === 'HEAD') return
  // The bytes as sent, under the same limit; an empty body is an empty array, so the route always gets bytes.
  if (parser === 'raw') return readLimited(request)
  const body =
    parser === 'csv' ? await parseCsvBody(request) : parser === 'upload' ? await parseUploadBody(request) : await parseBody(request, parser === 'form')
  return body === NO_BODY ? null : body
}

/**
 * The named form parser: a module that mounts it may declare `parse: FORM_PARSER` on a route. It
 * parses JSON and forms under the same limits; in practice `bodyParser` answers first (below).
 */
export const formParser = new Elysia({ name: 'form-parser' }).parser(FORM_PARSER, ({ request }) => parse(request, 'form'))

/** The named CSV parser, for routes that declare `parse: CSV_PARSER`; in practice `bodyParser` answers first (below). */
export const csvParser = new Elysia({ name: 'csv-parser' }).parser(CSV_PARSER, ({ request }) => parse(request, 'csv'))

/** The named upload parser, for routes that declare `parse: UPLOAD_PARSER`; in practice `bodyParser` answers first (below). */
export const uploadParser = new Elysia({ name: 'upload-parser' }).parser(UPLOAD_PARSER, ({ request }) => parse(request, 'upload'))

/** The named raw parser, for routes that declare `parse: RAW_PARSER`; in practice `bodyParser` answers first (below). */
export const rawParser = new Elysia({ name: 'raw-parser' }).parser(RAW_PARSER, ({ request }) => parse(request, 'raw'))

/**
 * Parses every request body of one app under the limits above, before Elysia validates it.
 * Elysia runs this global parser before a route's named one, so it reads the route's choice from
 * this app's route table and parses forms itself where the route named FORM_PARSER, CSV text
 * where it named CSV_PARSER, uploads where it named UPLOAD_PARSER and bytes where it named RAW_PARSER; every other route
 * takes JSON only.
 */
export const bodyParser = () => {
  const plugin = new Elysia({ name: 'body-parser' })
  const parserRoutes = fromRouteTable(plugin, parserRoutesOf)
  return plugin.onParse({ as: 'global' }, ({ request, route }) => parse(request, parserRoutes().get(`${request.method} ${route}`) ?? 'json'))
}
