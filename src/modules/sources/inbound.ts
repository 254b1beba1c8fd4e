/**
 * A delivery to a source URL: the gate has authenticated the token and taken its rate-limit token;
 * here the source's preset reads the bytes as sent, and its answer is acted on: leads stored through
 * the leads store (one transaction for the whole delivery), a verbatim reply, or a problem.
 */
import type { AppDeps } from '../../deps'
import { ApiError, ERROR_CODES, type ErrorCode, type FieldError } from '../../errors'
import { leadsStore, type ImportedLead, type NewLead } from '../leads/store'
import { fetchGraphLeads } from './graph'
import { toPerson } from '../leads/service'
import { PRESETS } from './presets'
import type { LeadDraft, PresetAnswer, SourceRequest } from './presets/types'
import { getSource, openSecrets, type Source } from './service'
import type { SourceModel } from './model'

/** What the endpoint does with a preset's answer. */
export type Outcome =
  | { kind: 'store'; leads: NewLead[] }
  | { kind: 'nothing'; detail: string }
  | { kind: 'reply'; status: number; contentType: string; body: string }

/** What a source answers when a delivery held no lead. */
export const NOTHING_IN_DELIVERY = 'The delivery held no lead; nothing was stored.'

/** What a Facebook source without an access token answers: Facebook only sends ids, which askad cannot fetch without one. */
export const NO_ACCESS_TOKEN =
  'Facebook sent only lead ids, and this source has no page access token to fetch them with; nothing was stored. ' +
  'Create the source with an access_token to store Facebook leads.'

/** The problem code of a preset's refusal: its own when it is one of ours with the same status, else the status's. */
function refusalCode(refusal: Extract<PresetAnswer, { kind: 'refuse' }>): ErrorCode {
  const own = refusal.code as ErrorCode
  if (own in ERROR_CODES && ERROR_CODES[own].status === refusal.status) return own
  const byStatus: Record<typeof refusal.status, ErrorCode> = {
    400: 'bad_request',
    401: 'unauthorized',
    403: 'forbidden',
    405: 'method_not_allowed',
    415: 'unsupported_media_type',
    422: 'validation_failed',
  }
  return byStatus[refusal.status]
}

/** Each draft checked as `POST /leads/inbound` checks a lead (422 naming `/leads/{i}/…` when several came), before anything is stored. */
function checkedLeads(source: Source, drafts: LeadDraft[]): NewLead[] {
  return drafts.map((draft, i) => {
    try {
      const { source: named, ...fields } = draft
      return { channel: 'inbound', person: toPerson({ ...fields, source: named ?? source.preset }), context: null }
    } catch (error) {
      if (!(error instanceof ApiError) || drafts.length === 1) throw error
      const errors: FieldError[] | undefined = error.errors?.map((e) => ({ path: `/leads/${i}${e.path}`, message: e.message }))
      throw new ApiError(error.code, `Lead ${i + 1} of ${drafts.length}: ${error.detail}`, errors)
    }
  })
}

/** Runs the source's preset over the request and decides what to do; refusals are thrown as problems. */
export async function decide(deps: AppDeps, workspaceId: string, sourceId: string, request: SourceRequest): Promise<{ source: Source; outcome: Outcome }> {
  const source = await getSource(deps, workspaceId, sourceId)
  const secrets = openSecrets(deps, source)
  const answer = PRESETS[source.preset].handle(request, secrets, deps.clock.now())
  switch (answer.kind) {
    case 'refuse':
      throw new ApiError(refusalCode(answer), answer.detail)
    case 'reply':
      return { source, outcome: answer }
    case 'leads':
      if (answer.leads.length === 0) return { source, outcome: { kind: 'nothing', detail: NOTHING_IN_DELIVERY } }
      return { source, outcome: { kind: 'store', leads: checkedLeads(source, answer.leads) } }
    case 'fetch':
      if (answer.ids.length === 0) return { source, outcome: { kind: 'nothing', detail: NOTHING_IN_DELIVERY } }
      return { source, outcome: await fetched(deps, source, answer.ids, secrets.accessToken) }
  }
}

/**
 * The leads a `fetch` answer names, read from the Graph API. Without an access token, or when Graph refuses
 * for good (a bad token, a missing permission), the delivery is acknowledged and nothing is stored — an error
 * answer would only make Facebook retry and then disable the subscription — and the log says why. When Graph
 * cannot be reached or fails, a 503 makes Facebook send the notification again later.
 */
async function fetched(deps: AppDeps, source: Source, ids: string[], accessToken: string | null): Promise<Outcome> {
  const facts = { workspace_id: source.workspaceId, source_id: source.id, lead_ids: ids.length }
  if (accessToken === null) {
    deps.logger.warn('source.fetch_skipped', { ...facts, reason: 'no access token' })
    return { kind: 'nothing', detail: NO_ACCESS_TOKEN }
  }
  const result = await fetchGraphLeads(deps, ids, accessToken)
  if (!result.ok) {
    deps.logger.error('source.fetch_failed', { ...facts, status: result.status, detail: result.detail })
    if (result.retry) throw new ApiError('unavailable', `${result.detail} Facebook will send the notification again.`)
    return { kind: 'nothing', detail: `${result.detail} Nothing was stored; check the source's page access token.` }
  }
  const mapFetched = PRESETS[source.preset].mapFetched
  const drafts = mapFetched ? result.records.map((record) => mapFetched(record)).filter((draft): draft is LeadDraft => draft !== null) : []
  if (drafts.length === 0) return { kind: 'nothing', detail: NOTHING_IN_DELIVERY }
  return { kind: 'store', leads: checkedLeads(source, drafts) }
}

/** Stores a delivery's leads in one transaction (all or none), each announced as `lead.created`. */
export function storeLeads(deps: AppDeps, workspaceId: string, leads: NewLead[]): Promise<ImportedLead[]> {
  return leadsStore(deps).importChunk(workspaceId, deps.clock.now(), leads, { emitEvents: true }, (imported) => imported)
}

/** The body answering stored leads. */
export function storedAnswer(imported: ImportedLead[]): SourceModel.accepted {
  return { status: 'created', leads: imported.map((l) => ({ id: l.leadId, contact_id: l.contactId })) }
}
