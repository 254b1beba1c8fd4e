/**
 * The one body parser: enforces the 1 MiB limit while reading (Content-Length or not),
 * answers 415 for content types a route does not take and 400 for malformed JSON.
 * Forms are accepted only by routes registered in `formRoutes` (browser capture).
 */
import { Elysia } from 'elysia'
import { ApiError } from '../lib/errors'

/** Largest request body accepted, in bytes (SPEC §9). */
const MAX_BODY_BYTES = 1024 * 1024

/**
 * Deepest JSON nesting accepted. Deeper bodies are refused before anything recursive walks them:
 * a few hundred thousand levels fit in 1 MiB and overflow the stack of the validator's error
 * message (a 500), and even a few thousand make that message cost seconds of CPU.
 */
export const MAX_JSON_DEPTH = 32

/** Route patterns that accept urlencoded and multipart form bodies besides JSON. */
export const formRoutes = new Set<string>()

const NO_BODY = Symbol('no body')

async function readLimited(request: Request): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared && Number(declared) > MAX_BODY_BYTES) throw tooLarge()
  if (!request.body) return new Uint8Array()
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength
    if (total > MAX_BODY_BYTES) throw tooLarge()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

function tooLarge(): ApiError {
  return new ApiError('payload_too_large', `Request bodies are limited to ${MAX_BODY_BYTES} bytes (1 MiB).`)
}

/** True when brackets outside strings nest deeper than `max`; one linear scan of the text. */
function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}

/** The media type of a Content-Type header, lower-cased, without parameters ('' when absent). */
export function mediaType(header: string | null): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase()
}

function formToObject(entries: Iterable<[string, FormDataEntryValue | string]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [key, value] of entries) {
    if (typeof value !== 'string') continue // uploaded files are not lead data
    const existing = out[key]
    out[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value]
  }
  return out
}

async function parseBody(request: Request, route: string): Promise<unknown> {
  const type = mediaType(request.headers.get('content-type'))
  const bytes = await readLimited(request)
  if (bytes.byteLength === 0) return NO_BODY
  const acceptsForms = formRoutes.has(route)
  if (type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))) {
    const text = new TextDecoder().decode(bytes)
    if (nestedDeeperThan(text, MAX_JSON_DEPTH)) throw new ApiError('bad_request', `JSON nested deeper than ${MAX_JSON_DEPTH} levels is not accepted.`)
    try {
      return JSON.parse(text)
    } catch (error) {
      throw new ApiError('malformed_json', `The body is not valid JSON: ${(error as Error).message}`)
    }
  }
  if (acceptsForms && type === 'application/x-www-form-urlencoded') {
    return formToObject(new URLSearchParams(new TextDecoder().decode(bytes)))
  }
  if (acceptsForms && type === 'multipart/form-data') {
    try {
      const form = await new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': request.headers.get('content-type')! } }).formData()
      return formToObject(form.entries())
    } catch {
      throw new ApiError('bad_request', 'The multipart body could not be parsed.')
    }
  }
  const accepted = acceptsForms ? 'application/json, application/x-www-form-urlencoded or multipart/form-data' : 'application/json'
  throw new ApiError('unsupported_media_type', `Content-Type '${type || '(none)'}' is not supported here; send ${accepted}.`)
}

/** Parses every request body under the limits above, before Elysia validates it. */
export const bodyParser = new Elysia({ name: 'body-parser' }).onParse({ as: 'global' }, async ({ request, route }) => {
  if (request.method === 'GET' || request.method === 'HEAD') return
  const body = await parseBody(request, route)
  return body === NO_BODY ? null : body
})
