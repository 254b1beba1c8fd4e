/**
 * The contract between a source's endpoint (`/api/v1/in/{token}`) and its preset: the endpoint finds the source,
 * rate-limits it and stores leads; the preset alone knows the sending tool's payload and signature. Presets are pure
 * (no I/O, no clock of their own), so each one is tested on the tool's published sample payloads.
 */
import type { LeadInput } from '../../leads/service'

/** The tools a source can be set up for. */
export const PRESET_NAMES = ['generic', 'zapier', 'make', 'n8n', 'hubspot', 'typeform', 'facebook'] as const
export type PresetName = (typeof PRESET_NAMES)[number]

/** The request exactly as the sender made it: signatures are computed over these bytes and this URL. */
export interface SourceRequest {
  method: 'GET' | 'POST'
  /** The URL the sender called (the public origin when behind a proxy, then path and query). */
  url: string
  headers: Headers
  body: Uint8Array
}

/** What the operator gave when creating the source; null where the preset takes none. */
export interface SourceSecrets {
  /** The tool's signing secret (HubSpot app client secret, Typeform secret, Facebook app secret). */
  signingSecret: string | null
  /** Facebook's verify token, echoed during the subscription handshake. */
  verifyToken: string | null
}

/** A lead as the preset maps it: what `POST /leads/inbound` would have taken. `source` defaults to the preset's name. */
export type LeadDraft = Omit<LeadInput, 'source' | 'context'> & { source?: string }

export type PresetAnswer =
  /** Store these leads (a tool may batch several in one call; zero is a valid, acknowledged delivery). */
  | { kind: 'leads'; leads: LeadDraft[] }
  /** The payload only names leads the tool holds (Facebook's `leadgen_id`): fetch each, then `mapFetched`. */
  | { kind: 'fetch'; ids: string[] }
  /** Answer this verbatim, e.g. the echo of Facebook's verify challenge. */
  | { kind: 'reply'; status: number; contentType: string; body: string }
  /** Refuse with a problem: 401 for a missing or wrong signature, 415/422 for a body the tool would not send. */
  | { kind: 'refuse'; status: 400 | 401 | 403 | 405 | 415 | 422; code: string; detail: string }

export interface Preset {
  name: PresetName
  /** Shown in the dashboard and the docs, e.g. "HubSpot (workflow webhook)". */
  title: string
  /** Whether the source must be created with a signing secret ('optional': signatures are checked when one is set). */
  signingSecret: 'required' | 'optional' | 'none'
  /** Whether the source must be created with a verify token (Facebook). */
  verifyToken: boolean
  /** `now` is the server's clock (ms), for signature timestamps. */
  handle(request: SourceRequest, secrets: SourceSecrets, now: number): PresetAnswer
  /** Maps one record fetched for a `fetch` answer (only presets that answer `fetch`). */
  mapFetched?(record: unknown): LeadDraft | null
}
