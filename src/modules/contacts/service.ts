/** Contacts: the people behind leads, deduplicated per workspace by email, else phone. */
import type { contacts } from '../../db/schema'
import type { ContactModel } from './model'
import type { ServiceDeps } from '../../deps'
import { iso, parseTimestamp } from '../../lib/clock'
import { invalid } from '../../errors'
import { checkContactMetadata, mergeMetadata } from '../../lib/metadata'
import { csvStream } from '../../lib/csv'
import { allPages, buildPage, type PageRequest } from '../../lib/pagination'
import { recordAudit } from '../audit/service'
import { singleLine } from '../../lib/text'
import { serializeDeal } from '../deals/service'
import type { ErasureReceipt } from './erasure'
import { parseSearch } from './search'
import { contactsStore } from './store'

export type Contact = typeof contacts.$inferSelect

/** Trimmed, lower-cased and NFC: the form contacts are matched and stored by. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase().normalize('NFC')
}

/** Keeps a leading '+' and the digits: '+1 (234) 567-890' → '+1234567890'. */
export function normalisePhone(phone: string): string {
  const trimmed = phone.trim()
  return (trimmed.startsWith('+') ? '+' : '') + trimmed.replace(/\D/g, '')
}

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

/** How many of a contact's newest leads and deals its detail view embeds. */
export const CONTACT_RECENT_ITEMS = 5

/** Trimmed one-line text in NFC; an empty or blank string counts as absent; 422 at `path` for control characters. */
export function clean(value: string | null | undefined, path: string): string | null {
  const trimmed = value?.trim()
  return trimmed ? singleLine(trimmed, path) : null
}

/** A checked, normalised email (or null when blank); 422 at `path` otherwise. */
export function parseEmail(value: string | null | undefined, path: string): string | null {
  const email = clean(value, path)
  if (email !== null && !EMAIL_PATTERN.test(email)) throw invalid(path, `'${email}' is not an email address`)
  return email === null ? null : normaliseEmail(email)
}

/** A checked, normalised phone (or null when blank); 422 at `path` otherwise. */
export function parsePhone(value: string | null | undefined, path: string): string | null {
  const raw = clean(value, path)
  const phone = raw === null ? null : normalisePhone(raw)
  if (phone !== null && !/^\+?\d{3,20}$/.test(phone)) throw invalid(path, 'must contain 3 to 20 digits')
  return phone
}

/** The person fields a lead carries, already normalised. */
export interface LeadPerson {
  email: string | null
  phone: string | null
  firstName: string | null
  lastName: string | null
  source: string
  metadata: Record<string, unknown>
}

/** One contact of the workspace; 404 for any other id. */
export function getContact(deps: ServiceDeps, workspaceId: string, id: string): Promise<Contact> {
  return contactsStore(deps).get(workspaceId, id)
}

/** A contact with its newest leads (summarised) and deals, for the detail view. */
export async function getContactDetail(deps: ServiceDeps, workspaceId: string, id: string) {
  const { contact, leads: recentLeads, deals: recentDeals } = await contactsStore(deps).detail(workspaceId, id, CONTACT_RECENT_ITEMS)
  return {
    ...serializeContact(contact),
    recent_leads: recentLeads.map((l) => ({
      id: l.id,
      object: 'lead' as const,
      channel: l.channel,
      source: l.source,
      status: l.status,
      deal_id: l.dealId,
      created_at: iso(l.createdAt)!,
    })),
    recent_deals: recentDeals.map(serializeDeal),
  }
}

/** Changes a PATCH may make; undefined leaves a field alone, null clears it. */
export interface ContactPatch {
  firstName?: string | null
  lastName?: string | null
  email?: string | null
  phone?: string | null
  /** Merged in; a null value removes its key. */
  metadata?: Record<string, unknown>
}

/** Edits a contact. It keeps an email or a phone; an email another contact has is a 409. */
export async function updateContact(deps: ServiceDeps, workspaceId: string, id: string, patch: ContactPatch): Promise<Contact> {
  const email = patch.email === undefined ? undefined : parseEmail(patch.email, '/email')
  const phone = patch.phone === undefined ? undefined : parsePhone(patch.phone, '/phone')
  const now = deps.clock.now()
  return contactsStore(deps).update(workspaceId, id, { email, phone }, (current) => {
    const next = {
      firstName: patch.firstName === undefined ? current.firstName : clean(patch.firstName, '/first_name'),
      lastName: patch.lastName === undefined ? current.lastName : clean(patch.lastName, '/last_name'),
      email: email === undefined ? current.email : email,
      phone: phone === undefined ? current.phone : phone,
      metadata: patch.metadata === undefined ? current.metadata : checkContactMetadata(mergeMetadata(current.metadata, patch.metadata)),
      updatedAt: now,
    }
    if (next.email === null && next.phone === null) throw invalid(patch.email === null ? '/email' : '/phone', 'a contact needs an email or a phone')
    return next
  })
}

/**
 * Erases a contact (GDPR Art. 17): the contact, its leads and their payloads are deleted, its deals
 * kept but unlinked, the events that carried its data redacted, and `contact.deleted` emitted; 404
 * for any other id, and for a contact already erased.
 */
export function eraseContact(deps: ServiceDeps, workspaceId: string, id: string): Promise<ErasureReceipt> {
  return contactsStore(deps).erase(workspaceId, id, deps.clock.now())
}

/** The answer of `DELETE /contacts/:id`: what was erased, by id and count. */
export function serializeErasure(r: ErasureReceipt): ContactModel.erased {
  return {
    id: r.contactId,
    object: 'contact' as const,
    deleted: true as const,
    deleted_at: iso(r.deletedAt)!,
    leads_deleted: r.leadIds.length,
    deals_unlinked: r.dealsUnlinked,
    events_redacted: r.eventsRedacted,
  }
}

export interface ContactFilters {
  email?: string
  source?: string
  updatedSince?: string
  /** Search text (search.ts tells what it matches). */
  q?: string
}

/** Contacts newest first, filtered by email, first source, updated since a time, or a search. */
export async function listContacts(deps: ServiceDeps, workspaceId: string, filters: ContactFilters, req: PageRequest) {
  const query = {
    email: filters.email === undefined ? undefined : normaliseEmail(filters.email),
    source: filters.source,
    updatedSince: filters.updatedSince === undefined ? undefined : parseTimestamp(filters.updatedSince, 'query.updated_since'),
    search: parseSearch(filters.q) ?? undefined,
  }
  const { rows, total, hasMore } = await contactsStore(deps).list(workspaceId, query, req)
  return buildPage(
    req,
    rows.map((c) => ({ seq: c.seq, item: serializeContact(c) })),
    total,
    hasMore,
  )
}

/** The public shape of a contact. */
export function serializeContact(c: Contact): ContactModel.contact {
  return {
    id: c.id,
    object: 'contact' as const,
    email: c.email,
    phone: c.phone,
    first_name: c.firstName,
    last_name: c.lastName,
    first_source: c.firstSource,
    last_source: c.lastSource,
    lead_count: c.leadCount,
    metadata: c.metadata,
    created_at: iso(c.createdAt)!,
    updated_at: iso(c.updatedAt)!,
  }
}

/** Contacts per page an export reads: one page is in memory at a time. */
export const EXPORT_PAGE_SIZE = 500

/** The CSV export's columns, in order, with how each is read off a contact. */
const CONTACT_CSV: [string, (c: ContactModel.contact) => unknown][] = [
  ['id', (c) => c.id],
  ['email', (c) => c.email],
  ['phone', (c) => c.phone],
  ['first_name', (c) => c.first_name],
  ['last_name', (c) => c.last_name],
  ['first_source', (c) => c.first_source],
  ['last_source', (c) => c.last_source],
  ['lead_count', (c) => c.lead_count],
  ['metadata', (c) => c.metadata],
  ['created_at', (c) => c.created_at],
  ['updated_at', (c) => c.updated_at],
]

/**
 * Every contact matching the filters as a CSV stream (lib/csv.ts), newest first, read along the
 * list's cursor a page at a time; the filters are checked (422) before it starts, and the export is
 * recorded in the audit log as done by the deps' actor.
 */
export async function exportContactsCsv(deps: ServiceDeps, workspaceId: string, filters: ContactFilters, options: { bom: boolean }) {
  const pages = await allPages((req) => listContacts(deps, workspaceId, filters, req), EXPORT_PAGE_SIZE)
  await recordAudit(deps, { workspaceId, action: 'contacts.exported', target: { type: 'contact', id: null }, details: { filters: filtersForAudit(filters) } })
  return csvStream(
    CONTACT_CSV.map(([name]) => name),
    pages,
    (c) => CONTACT_CSV.map(([, read]) => read(c)),
    options.bom,
  )
}

/** Filters whose values are a person's data: the audit log says they were given, not what they were (it outlives an erasure). */
const PERSONAL_FILTERS = new Set(['email', 'q'])

/** What the log shows instead of such a filter's value. */
export const WITHHELD_FILTER = '(withheld: personal data)'

/** The filters that were given, for the audit log's details; personal values withheld. */
export function filtersForAudit(filters: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(filters)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => [name, PERSONAL_FILTERS.has(name) ? WITHHELD_FILTER : value]),
  )
}
