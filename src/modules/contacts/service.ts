/** Contacts: the people behind leads, deduplicated per workspace by email, else phone. */
import type { QueryDeps } from '../../deps'
import { rowInWorkspace } from '../../db/in-workspace'
import { and, desc, eq, gte, isNull, ne, sql } from 'drizzle-orm'
import { placeholders, prepared } from '../../db/prepared'
import { contacts, deals, leads } from '../../db/schema'
import { seqPage } from '../../db/seq-page'
import { COUNTERS, nextSeq, type DbOrTx } from '../../db/tx'
import { write } from '../../db/unit-of-work'
import type { ContactModel } from './model'
import type { ReadDeps, ServiceDeps } from '../../deps'
import { iso, parseTimestamp } from '../../lib/clock'
import { ApiError, invalid } from '../../errors'
import { newId } from '../../lib/ids'
import { checkContactMetadata, mergeLeadMetadata, mergeMetadata } from '../../lib/metadata'
import { buildPage, type PageRequest } from '../../lib/pagination'
import { singleLine } from '../../lib/text'
import { serializeDeal } from '../deals/service'

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

function findMatch(tx: DbOrTx, workspaceId: string, person: LeadPerson): Contact | undefined {
  const inWorkspace = eq(contacts.workspaceId, sql.placeholder('workspaceId'))
  if (person.email) {
    const byEmail = prepared(tx, 'contacts.byEmail', (db) =>
      db
        .select()
        .from(contacts)
        .where(and(inWorkspace, eq(contacts.email, sql.placeholder('email'))))
        .prepare(),
    )
    const found = byEmail.get({ workspaceId, email: person.email })
    if (found || !person.phone) return found
    // A phone-only contact gains its email when the same phone comes back with one.
    const byPhoneWithoutEmail = prepared(tx, 'contacts.byPhoneWithoutEmail', (db) =>
      db
        .select()
        .from(contacts)
        .where(and(inWorkspace, eq(contacts.phone, sql.placeholder('phone')), isNull(contacts.email)))
        .orderBy(desc(contacts.seq))
        .limit(1)
        .prepare(),
    )
    return byPhoneWithoutEmail.get({ workspaceId, phone: person.phone })
  }
  const byPhone = prepared(tx, 'contacts.byPhone', (db) =>
    db
      .select()
      .from(contacts)
      .where(and(inWorkspace, eq(contacts.phone, sql.placeholder('phone'))))
      .orderBy(desc(contacts.seq))
      .limit(1)
      .prepare(),
  )
  return byPhone.get({ workspaceId, phone: person.phone! })
}

/**
 * Finds the lead's contact or creates it. A known contact gets its empty fields filled,
 * metadata merged (newer wins per key, least recently written keys dropped beyond 64 KB),
 * lead_count and last_source bumped; first_source stays. Returns the metadata keys dropped.
 */
export function upsertContactForLead(tx: DbOrTx, now: number, workspaceId: string, person: LeadPerson): { contact: Contact; droppedMetadataKeys: string[] } {
  const existing = findMatch(tx, workspaceId, person)
  if (existing) {
    const { metadata, dropped } = mergeLeadMetadata(existing.metadata, person.metadata)
    // update().set() takes no bare placeholders in its types; sql`` wraps them.
    const merge = prepared(tx, 'contacts.mergeLead', (db) =>
      db
        .update(contacts)
        .set({
          email: sql`${sql.placeholder('email')}`,
          phone: sql`${sql.placeholder('phone')}`,
          firstName: sql`${sql.placeholder('firstName')}`,
          lastName: sql`${sql.placeholder('lastName')}`,
          metadata: sql`${sql.placeholder('metadata')}`,
          leadCount: sql`${contacts.leadCount} + 1`,
          lastSource: sql`${sql.placeholder('lastSource')}`,
          updatedAt: sql`${sql.placeholder('updatedAt')}`,
        })
        .where(eq(contacts.id, sql.placeholder('id')))
        .returning()
        .prepare(),
    )
    const contact = merge.get({
      id: existing.id,
      email: existing.email ?? person.email,
      phone: existing.phone ?? person.phone,
      firstName: existing.firstName ?? person.firstName,
      lastName: existing.lastName ?? person.lastName,
      // Bound as raw SQL text, so the JSON column's encoder does not run: stringify here.
      metadata: JSON.stringify(metadata),
      lastSource: person.source,
      updatedAt: now,
    })!
    return { contact, droppedMetadataKeys: dropped }
  }
  const row: Contact = {
    id: newId(),
    workspaceId,
    seq: nextSeq(tx, workspaceId, COUNTERS.contacts),
    sourceSeq: nextSeq(tx, workspaceId, COUNTERS.contactsFromSource(person.source)),
    email: person.email,
    phone: person.phone,
    firstName: person.firstName,
    lastName: person.lastName,
    firstSource: person.source,
    lastSource: person.source,
    metadata: person.metadata,
    leadCount: 1,
    createdAt: now,
    updatedAt: now,
  }
  insertContact(tx).run(row)
  return { contact: row, droppedMetadataKeys: [] }
}

/** Inserts a whole contact row: every column a placeholder of the same name. */
function insertContact(tx: DbOrTx) {
  return prepared(tx, 'contacts.insert', (db) => db.insert(contacts).values(placeholders(contacts)).prepare())
}

/** One contact of the workspace; 404 for any other id. */
export function getContact({ db }: QueryDeps, workspaceId: string, id: string): Contact {
  return rowInWorkspace(db, contacts, workspaceId, id, 'contact')
}

/** A contact with its newest leads (summarised) and deals, for the detail view. */
export function getContactDetail({ db }: ReadDeps, workspaceId: string, id: string) {
  const contact = getContact({ db }, workspaceId, id)
  const recentLeads = db
    .select()
    .from(leads)
    .where(eq(leads.contactId, contact.id))
    .orderBy(desc(leads.createdAt), desc(leads.seq))
    .limit(CONTACT_RECENT_ITEMS)
    .all()
  const recentDeals = db
    .select()
    .from(deals)
    .where(and(eq(deals.workspaceId, workspaceId), eq(deals.contactId, contact.id)))
    .orderBy(desc(deals.createdAt), desc(deals.id))
    .limit(CONTACT_RECENT_ITEMS)
    .all()
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
export function updateContact(deps: ServiceDeps, workspaceId: string, id: string, patch: ContactPatch): Promise<Contact> {
  const email = patch.email === undefined ? undefined : parseEmail(patch.email, '/email')
  const phone = patch.phone === undefined ? undefined : parsePhone(patch.phone, '/phone')
  return write(deps, (tx) => {
    const current = getContact({ db: tx }, workspaceId, id)
    const next = {
      firstName: patch.firstName === undefined ? current.firstName : clean(patch.firstName, '/first_name'),
      lastName: patch.lastName === undefined ? current.lastName : clean(patch.lastName, '/last_name'),
      email: email === undefined ? current.email : email,
      phone: phone === undefined ? current.phone : phone,
      metadata: patch.metadata === undefined ? current.metadata : checkContactMetadata(mergeMetadata(current.metadata, patch.metadata)),
      updatedAt: deps.clock.now(),
    }
    if (next.email === null && next.phone === null) throw invalid(patch.email === null ? '/email' : '/phone', 'a contact needs an email or a phone')
    if (next.email !== null && next.email !== current.email) {
      const taken = tx
        .select({ id: contacts.id })
        .from(contacts)
        .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.email, next.email), ne(contacts.id, id)))
        .get()
      if (taken)
        throw new ApiError('conflict', `Another contact in this workspace already has the email '${next.email}'.`, [
          { path: '/email', message: 'belongs to another contact' },
        ])
    }
    return tx.update(contacts).set(next).where(eq(contacts.id, id)).returning().get()!
  })
}

export interface ContactFilters {
  email?: string
  source?: string
  updatedSince?: string
}

/** Contacts newest first, filtered by email, first source, or updated since a time. */
export function listContacts({ db }: ReadDeps, workspaceId: string, filters: ContactFilters, req: PageRequest) {
  const where = []
  if (filters.email !== undefined) where.push(eq(contacts.email, normaliseEmail(filters.email)))
  if (filters.updatedSince !== undefined) where.push(gte(contacts.updatedAt, parseTimestamp(filters.updatedSince, 'query.updated_since')))
  const source =
    filters.source === undefined ? undefined : { column: contacts.firstSource, value: filters.source, counter: COUNTERS.contactsFromSource(filters.source) }
  const { rows, total, hasMore } = seqPage<Contact>(db, { table: contacts, workspaceId, counter: COUNTERS.contacts, source, where, req })
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
