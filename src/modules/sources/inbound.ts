/**
 * A delivery to a source URL: the gate has authenticated the token and taken its rate-limit token;
 * here the source's preset reads the bytes as sent, and its answer is acted on: leads stored through
 * the leads store (one transaction for the whole delivery), a verbatim reply, or a problem.
 */
import type { AppDeps } from '../../deps'
import { ApiError, ERROR_CODES, type ErrorCode, type FieldError } from '../../errors'
import { leadsStore, type ImportedLead, type NewLead } from '../leads/store'
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
  'Add an access token (a new source with access_token) to store Facebook leads.'

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
      deps.logger.warn('source.fetch_skipped', { workspace_id: workspaceId, source_id: source.id, lead_ids: answer.ids.length, reason: 'no access token' })
      return { source, outcome: { kind: 'nothing', detail: NO_ACCESS_TOKEN } }
  }
}

/** Stores a delivery's leads in one transaction (all or none), each announced as `lead.created`. */
export function storeLeads(deps: AppDeps, workspaceId: string, leads: NewLead[]): Promise<ImportedLead[]> {
  return leadsStore(deps).importChunk(workspaceId, deps.clock.now(), leads, { emitEvents: true }, (imported) => imported)
}

/** The body answering stored leads. */
export function storedAnswer(imported: ImportedLead[]): SourceModel.accepted {
  return { status: 'created', leads: imported.map((l) => ({ id: l.leadId, contact_id: l.contactId })) }
}
