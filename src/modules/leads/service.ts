/** Leads: each submission kept verbatim, merged into a contact, announced as `lead.created`, converted into a deal. */
import { leads } from '../../db/schema'
import type { LeadModel } from './model'
import type { AppDeps, ServiceDeps } from '../../deps'
import { iso, parseTimestamp } from '../../lib/clock'
import { invalid } from '../../errors'
import { checkMetadata } from '../../lib/metadata'
import { csvStream } from '../../lib/csv'
import { allPages, buildPage, type PageRequest } from '../../lib/pagination'
import { recordAudit } from '../audit/service'
import { singleLine } from '../../lib/text'
import { clean, definedOnly, EXPORT_PAGE_SIZE, parseEmail, parsePhone, type LeadPerson } from '../contacts/service'
import { newDeal, type Deal, type DealInput } from '../deals/service'
import { leadsStore } from './store'

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
 * (on SQLite group-committed with concurrent leads); resolves once committed.
 */
export async function createLead(deps: LeadDeps, workspaceId: string, channel: Lead['channel'], input: LeadInput): Promise<Lead> {
  const person = toPerson(input)
  const now = deps.clock.now()
  const { lead, droppedMetadataKeys } = await leadsStore(deps).create(workspaceId, now, { channel, person, context: input.context ?? null })
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
export function getLead(deps: ServiceDeps, workspaceId: string, id: string): Promise<Lead> {
  return leadsStore(deps).get(workspaceId, id)
}

/** List filters as they come from the query string. */
export interface LeadFilters {
  source?: string
  status?: string
  contactId?: string
  createdSince?: string
}

/** Leads newest first; unfiltered and by-source pages are index seeks at any depth. */
export async function listLeads(deps: ServiceDeps, workspaceId: string, filters: LeadFilters, req: PageRequest) {
  if (filters.status !== undefined && !(LEAD_STATUSES as readonly string[]).includes(filters.status))
    throw invalid('query.status', `must be one of ${LEAD_STATUSES.join(', ')}`)
  const query = {
    source: filters.source,
    status: filters.status as Lead['status'] | undefined,
    contactId: filters.contactId,
    createdSince: filters.createdSince === undefined ? undefined : parseTimestamp(filters.createdSince, 'query.created_since'),
  }
  const { rows, total, hasMore } = await leadsStore(deps).list(workspaceId, query, req)
  return buildPage(
    req,
    rows.map((l) => ({ seq: l.seq, item: serializeLead(l) })),
    total,
    hasMore,
  )
}

const DAY_MS = 24 * 60 * 60 * 1000

/** Lead counts per UTC day, oldest first, for the `days` days ending today (the dashboard's chart). */
export async function leadsPerDay(deps: ServiceDeps, workspaceId: string, now: number, days: number): Promise<{ day: string; count: number }[]> {
  const since = Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS
  const counts = await leadsStore(deps).countsPerDay(workspaceId, since, DAY_MS)
  return Array.from({ length: days }, (_, i) => ({ day: new Date(since + i * DAY_MS).toISOString().slice(0, 10), count: counts.get(i) ?? 0 }))
}

/** Leads per source, largest first, from the kept per-source counters (no scan). */
export function leadsBySource(deps: ServiceDeps, workspaceId: string): Promise<{ source: string; count: number }[]> {
  return leadsStore(deps).countsBySource(workspaceId)
}

/** Totals kept as counters: every lead and every contact of the workspace. */
export function leadTotals(deps: ServiceDeps, workspaceId: string): Promise<{ leads: number; contacts: number }> {
  return leadsStore(deps).totals(workspaceId)
}

/** The deal title a conversion gets when the client names none: the person, else how to reach them. */
function defaultDealTitle(lead: Lead): string {
  return [lead.firstName, lead.lastName].filter(Boolean).join(' ') || lead.email || lead.phone || 'Converted lead'
}

/**
 * Converts a lead into a deal for its contact and emits `lead.converted`, in one transaction.
 * Converting an already converted lead changes nothing and returns its deal (`created: false`).
 */
export async function convertLead(deps: ServiceDeps, workspaceId: string, id: string, input: DealInput): Promise<{ lead: Lead; deal: Deal; created: boolean }> {
  const now = deps.clock.now()
  return leadsStore(deps).convert(workspaceId, id, now, (lead) => newDeal(input, input.title ?? defaultDealTitle(lead), lead.contactId, lead.id))
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

/** The CSV export's columns, in order, with how each is read off a lead. */
const LEAD_CSV: [string, (l: LeadModel.lead) => unknown][] = [
  ['id', (l) => l.id],
  ['contact_id', (l) => l.contact_id],
  ['channel', (l) => l.channel],
  ['source', (l) => l.source],
  ['email', (l) => l.email],
  ['phone', (l) => l.phone],
  ['first_name', (l) => l.first_name],
  ['last_name', (l) => l.last_name],
  ['status', (l) => l.status],
  ['deal_id', (l) => l.deal_id],
  ['metadata', (l) => l.metadata],
  ['context', (l) => l.context],
  ['created_at', (l) => l.created_at],
  ['converted_at', (l) => l.converted_at],
]

/**
 * Every lead matching the filters as a CSV stream (lib/csv.ts), newest first, read along the list's
 * cursor a page at a time; the filters are checked (422) before it starts, and the export is
 * recorded in the audit log as done by the deps' actor.
 */
export async function exportLeadsCsv(deps: ServiceDeps, workspaceId: string, filters: LeadFilters, options: { bom: boolean }) {
  const pages = await allPages((req) => listLeads(deps, workspaceId, filters, req), EXPORT_PAGE_SIZE)
  await recordAudit(deps, { workspaceId, action: 'leads.exported', target: { type: 'lead', id: null }, details: { filters: definedOnly(filters) } })
  return csvStream(
    LEAD_CSV.map(([name]) => name),
    pages,
    (l) => LEAD_CSV.map(([, read]) => read(l)),
    options.bom,
  )
}
