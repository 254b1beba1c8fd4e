/** Contacts: the people behind leads, deduplicated per workspace by email, else phone. */
import { and, desc, eq, gte, isNull } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { contacts } from '../../db/schema'
import { seqPage } from '../../db/seq-page'
import { nextSeq, type DbOrTx } from '../../db/tx'
import { iso } from '../../lib/clock'
import { invalid, notFound } from '../../lib/errors'
import { newId } from '../../lib/ids'
import { buildPage, type PageRequest } from '../../lib/pagination'

export type Contact = typeof contacts.$inferSelect

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase()
}

/** Keeps a leading '+' and the digits: '+1 (234) 567-890' → '+1234567890'. */
export function normalisePhone(phone: string): string {
  const trimmed = phone.trim()
  return (trimmed.startsWith('+') ? '+' : '') + trimmed.replace(/\D/g, '')
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
  if (person.email) {
    const byEmail = tx.select().from(contacts).where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.email, person.email))).get()
    if (byEmail || !person.phone) return byEmail
    // A phone-only contact gains its email when the same phone comes back with one.
    return tx
      .select()
      .from(contacts)
      .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.phone, person.phone), isNull(contacts.email)))
      .orderBy(desc(contacts.seq))
      .get()
  }
  return tx.select().from(contacts).where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.phone, person.phone!))).orderBy(desc(contacts.seq)).get()
}

/**
 * Finds the lead's contact or creates it. A known contact gets its empty fields filled,
 * metadata merged (newer wins per key), lead_count and last_source bumped; first_source stays.
 */
export function upsertContactForLead(tx: DbOrTx, now: number, workspaceId: string, person: LeadPerson): Contact {
  const existing = findMatch(tx, workspaceId, person)
  if (existing) {
    return tx
      .update(contacts)
      .set({
        email: existing.email ?? person.email,
        phone: existing.phone ?? person.phone,
        firstName: existing.firstName ?? person.firstName,
        lastName: existing.lastName ?? person.lastName,
        metadata: { ...existing.metadata, ...person.metadata },
        leadCount: existing.leadCount + 1,
        lastSource: person.source,
        updatedAt: now,
      })
      .where(eq(contacts.id, existing.id))
      .returning()
      .get()!
  }
  const row: Contact = {
    id: newId(),
    workspaceId,
    seq: nextSeq(tx, workspaceId, 'contacts'),
    sourceSeq: nextSeq(tx, workspaceId, `contacts:source:${person.source}`),
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
  tx.insert(contacts).values(row).run()
  return row
}

export function getContact(db: DbOrTx, workspaceId: string, id: string): Contact {
  const row = db.select().from(contacts).where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, id))).get()
  if (!row) throw notFound('contact', id)
  return row
}

export interface ContactFilters {
  email?: string
  source?: string
  updatedSince?: string
}

/** Parses an RFC 3339 timestamp or a date (YYYY-MM-DD) from the query, else 422. */
export function parseSince(value: string, path: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}([Tt ][\d:.]+([Zz]|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : NaN
  if (Number.isNaN(ms)) throw invalid(path, 'must be an RFC 3339 date-time such as 2026-01-31T00:00:00Z')
  return ms
}

/** Contacts newest first, filtered by email, first source, or updated since a time. */
export function listContacts(db: Db, workspaceId: string, filters: ContactFilters, req: PageRequest) {
  const where = []
  if (filters.email !== undefined) where.push(eq(contacts.email, normaliseEmail(filters.email)))
  if (filters.updatedSince !== undefined) where.push(gte(contacts.updatedAt, parseSince(filters.updatedSince, 'query.updated_since')))
  const source = filters.source === undefined ? undefined : { column: contacts.firstSource, value: filters.source, counter: `contacts:source:${filters.source}` }
  const { rows, total, hasMore } = seqPage<Contact>(db, { table: contacts, workspaceId, counter: 'contacts', source, where, req })
  return buildPage(req, rows.map((c) => ({ seq: c.seq, item: serializeContact(c) })), total, hasMore)
}

export function serializeContact(c: Contact) {
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
