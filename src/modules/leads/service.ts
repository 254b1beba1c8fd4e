/** Leads: each submission kept verbatim, merged into a contact, announced as `lead.created`, converted into a deal. */
import type { QueryDeps } from '../../deps'
import { rowInWorkspace } from '../../db/in-workspace'
import { eq, gte } from 'drizzle-orm'
import { placeholders, prepared } from '../../db/prepared'
import { leads } from '../../db/schema'
import { seqPage } from '../../db/seq-page'
import { COUNTERS, nextSeq } from '../../db/tx'
import { write, writeBatched } from '../../db/unit-of-work'
import type { LeadModel } from './model'
import type { AppDeps, ReadDeps, ServiceDeps } from '../../deps'
import { iso, parseTimestamp } from '../../lib/clock'
import { invalid } from '../../errors'
import { newId } from '../../lib/ids'
import { checkMetadata } from '../../lib/metadata'
import { buildPage, type PageRequest } from '../../lib/pagination'
import { singleLine } from '../../lib/text'
import { clean, parseEmail, parsePhone, upsertContactForLead, type LeadPerson } from '../contacts/service'
import { getDeal, insertDeal, serializeDeal, type Deal, type DealInput } from '../deals/service'

export type Lead = typeof leads.$inferSelect

/** Serialized lead data larger than this is sent in events without its metadata (events stay small). */
const EVENT_LEAD_MAX_BYTES = 16 * 1024

/** How many dropped metadata key names one log line lists. */
const DROPPED_KEYS_LOGGED = 20

/** Lead creation also logs, when a contact's merged metadata had to drop keys. */
export type LeadDeps = ServiceDeps & Pick<AppDeps, 'logger'>

export interface LeadInput {
  email?: string | null
  phone?: string | null
  firstName?: string | null
  lastName?: string | null
  source: string
  metadata: Record<string, unknown>
  context?: Record<string, unknown> | null
}

/** Validates and normalises the person fields; 422 with the failing path otherwise. */
export function toPerson(input: LeadInput): LeadPerson {
  const email = parseEmail(input.email, '/email')
  const phone = parsePhone(input.phone, '/phone')
  if (email === null && phone === null) throw invalid('/email', 'at least one of email or phone is required')
  const source = singleLine(input.source.trim(), '/source')
  if (!source) throw invalid('/source', 'must not be blank')
  const metadata = checkMetadata(input.metadata)
  return { email, phone, firstName: clean(input.firstName, '/first_name'), lastName: clean(input.lastName, '/last_name'), source, metadata }
}

/**
 * Stores a lead, merges it into its contact and queues `lead.created`, all in one transaction
 * (group-committed with concurrent leads; resolves once committed).
 */
export async function createLead(deps: LeadDeps, workspaceId: string, channel: Lead['channel'], input: LeadInput): Promise<Lead> {
  const person = toPerson(input)
  const now = deps.clock.now()
  // Set by the run that commits; the work's result is the lead, which a stored answer is made from.
  let droppedMetadataKeys: string[] = []
  const lead = await writeBatched(deps, (tx, emit) => {
    const upserted = upsertContactForLead(tx, now, workspaceId, person)
    const contact = upserted.contact
    droppedMetadataKeys = upserted.droppedMetadataKeys
    const lead: Lead = {
      id: newId(),
      workspaceId,
      contactId: contact.id,
      seq: nextSeq(tx, workspaceId, COUNTERS.leads),
      sourceSeq: nextSeq(tx, workspaceId, COUNTERS.leadsFromSource(person.source)),
      channel,
      source: person.source,
      email: person.email,
      phone: person.phone,
      firstName: person.firstName,
      lastName: person.lastName,
      metadata: person.metadata,
      context: input.context ?? null,
      status: 'new',
      dealId: null,
      convertedAt: null,
      createdAt: now,
    }
    prepared(tx, 'leads.insert', (db) => db.insert(leads).values(placeholders(leads)).prepare()).run(lead)
    emit(workspaceId, 'lead.created', { lead: eventLead(lead) }, now)
    return lead
  })
  if (droppedMetadataKeys.length > 0) {
    // The lead keeps everything; only the contact's merged view lost its oldest keys, which the operator may want to know.
    deps.logger.info('contact.metadata_trimmed', {
      workspace_id: workspaceId,
      contact_id: lead.contactId,
      lead_id: lead.id,
      dropped_keys: droppedMetadataKeys.slice(0, DROPPED_KEYS_LOGGED),
    })
  }
  return lead
}

const LEAD_STATUSES = leads.status.enumValues

/** One lead of the workspace; 404 for any other id. */
export function getLead({ db }: QueryDeps, workspaceId: string, id: string): Lead {
  return rowInWorkspace(db, leads, workspaceId, id, 'lead')
}

/** List filters as they come from the query string. */
export interface LeadFilters {
  source?: string
  status?: string
  contactId?: string
  createdSince?: string
}

/** Leads newest first; unfiltered and by-source pages are index seeks at any depth. */
export function listLeads({ db }: ReadDeps, workspaceId: string, filters: LeadFilters, req: PageRequest) {
  const where = []
  if (filters.status !== undefined) {
    if (!(LEAD_STATUSES as readonly string[]).includes(filters.status)) throw invalid('query.status', `must be one of ${LEAD_STATUSES.join(', ')}`)
    where.push(eq(leads.status, filters.status as Lead['status']))
  }
  if (filters.contactId !== undefined) where.push(eq(leads.contactId, filters.contactId))
  if (filters.createdSince !== undefined) where.push(gte(leads.createdAt, parseTimestamp(filters.createdSince, 'query.created_since')))
  const source = filters.source === undefined ? undefined : { column: leads.source, value: filters.source, counter: COUNTERS.leadsFromSource(filters.source) }
  const { rows, total, hasMore } = seqPage<Lead>(db, { table: leads, workspaceId, counter: COUNTERS.leads, source, where, req })
  return buildPage(
    req,
    rows.map((l) => ({ seq: l.seq, item: serializeLead(l) })),
    total,
    hasMore,
  )
}

/** The deal title a conversion gets when the client names none: the person, else how to reach them. */
function defaultDealTitle(lead: Lead): string {
  return [lead.firstName, lead.lastName].filter(Boolean).join(' ') || lead.email || lead.phone || 'Converted lead'
}

/**
 * Converts a lead into a deal for its contact and emits `lead.converted`, in one transaction.
 * Converting an already converted lead changes nothing and returns its deal (`created: false`).
 */
export function convertLead(deps: ServiceDeps, workspaceId: string, id: string, input: DealInput): Promise<{ lead: Lead; deal: Deal; created: boolean }> {
  const now = deps.clock.now()
  return write(deps, (tx, emit) => {
    const lead = getLead({ db: tx }, workspaceId, id)
    if (lead.status === 'converted') return { lead, deal: getDeal({ db: tx }, workspaceId, lead.dealId!), created: false }
    const deal = insertDeal(tx, emit, now, workspaceId, { title: input.title ?? defaultDealTitle(lead), input, contactId: lead.contactId, leadId: lead.id })
    const converted = tx.update(leads).set({ status: 'converted', dealId: deal.id, convertedAt: now }).where(eq(leads.id, lead.id)).returning().get()!
    emit(workspaceId, 'lead.converted', { lead: eventLead(converted), deal: serializeDeal(deal) }, now)
    return { lead: converted, deal, created: true }
  })
}

/** The lead as events carry it: without metadata and context when they would make the event large. */
export function eventLead(lead: Lead) {
  const full = serializeLead(lead)
  if (JSON.stringify(full).length <= EVENT_LEAD_MAX_BYTES) return full
  return { ...full, metadata: {}, context: null, metadata_truncated: true }
}

/** The lead as the API shows it. */
export function serializeLead(l: Lead): LeadModel.lead {
  return {
    id: l.id,
    object: 'lead' as const,
    contact_id: l.contactId,
    channel: l.channel,
    source: l.source,
    email: l.email,
    phone: l.phone,
    first_name: l.firstName,
    last_name: l.lastName,
    metadata: l.metadata,
    context: l.context,
    status: l.status,
    deal_id: l.dealId,
    converted_at: iso(l.convertedAt),
    created_at: iso(l.createdAt)!,
  }
}
