/** Contacts on SQLite: synchronous drizzle inside the unit of work, prepared statements on the ingest path. */
import { and, desc, eq, gte, ne, sql } from 'drizzle-orm'
import { rowInWorkspace } from '../../db/in-workspace'
import { prepared, rawStatement, rawTable } from '../../db/prepared'
import { contacts, deals, leads } from '../../db/schema'
import { seqPage } from '../../db/seq-page'
import { COUNTERS, nextSeq, type DbOrTx, type Tx } from '../../db/tx'
import { write } from '../../db/unit-of-work'
import type { ServiceDeps } from '../../deps'
import { newId } from '../../lib/ids'
import type { Contact, LeadPerson } from './service'
import { emailTaken, mergedWithLead, type ContactsStore } from './store'

/** Contacts as the ingest path reads and writes them, on bun:sqlite directly. */
const contactRows = rawTable(contacts)

/** The first contact a query finds, as drizzle would return it. */
function firstContact(tx: DbOrTx, name: string, where: string, params: Record<string, string>): Contact | undefined {
  const raw = rawStatement<Record<string, unknown>>(tx, name, `SELECT ${contactRows.columns} FROM contacts WHERE ${where}`).get(params)
  return raw ? contactRows.decode(raw) : undefined
}

function findMatch(tx: DbOrTx, workspaceId: string, person: LeadPerson): Contact | undefined {
  if (person.email) {
    const found = firstContact(tx, 'contacts.byEmail', 'workspace_id = $workspaceId AND email = $email', { workspaceId, email: person.email })
    if (found || !person.phone) return found
    // A phone-only contact gains its email when the same phone comes back with one.
    return firstContact(tx, 'contacts.byPhoneWithoutEmail', 'workspace_id = $workspaceId AND phone = $phone AND email IS NULL ORDER BY seq DESC LIMIT 1', {
      workspaceId,
      phone: person.phone,
    })
  }
  return firstContact(tx, 'contacts.byPhone', 'workspace_id = $workspaceId AND phone = $phone ORDER BY seq DESC LIMIT 1', { workspaceId, phone: person.phone! })
}

/**
 * Finds the lead's contact or creates it, inside the caller's unit of work (see mergedWithLead);
 * lead_count is bumped. Returns the metadata keys dropped.
 */
export function upsertContactForLead(tx: Tx, now: number, workspaceId: string, person: LeadPerson): { contact: Contact; droppedMetadataKeys: string[] } {
  const existing = findMatch(tx, workspaceId, person)
  if (existing) {
    const { dropped, metadata, ...fields } = mergedWithLead(existing, person)
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
    // Bound as raw SQL text, so the JSON column's encoder does not run: stringify here.
    const contact = merge.get({ id: existing.id, ...fields, metadata: JSON.stringify(metadata), updatedAt: now })!
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
  rawStatement(tx, 'contacts.insert', contactRows.insert).run(contactRows.encode(row))
  return { contact: row, droppedMetadataKeys: [] }
}

/** The contacts store on the SQLite database of `deps`. */
export function sqliteContactsStore(deps: ServiceDeps): ContactsStore {
  const { db } = deps
  return {
    async get(workspaceId, id) {
      return rowInWorkspace(db, contacts, workspaceId, id, 'contact')
    },

    async detail(workspaceId, id, recent) {
      const contact = rowInWorkspace(db, contacts, workspaceId, id, 'contact')
      const recentLeads = db.select().from(leads).where(eq(leads.contactId, contact.id)).orderBy(desc(leads.createdAt), desc(leads.seq)).limit(recent).all()
      const recentDeals = db
        .select()
        .from(deals)
        .where(and(eq(deals.workspaceId, workspaceId), eq(deals.contactId, contact.id)))
        .orderBy(desc(deals.createdAt), desc(deals.id))
        .limit(recent)
        .all()
      return { contact, leads: recentLeads, deals: recentDeals }
    },

    async list(workspaceId, query, req) {
      const where = []
      if (query.email !== undefined) where.push(eq(contacts.email, query.email))
      if (query.updatedSince !== undefined) where.push(gte(contacts.updatedAt, query.updatedSince))
      const source =
        query.source === undefined ? undefined : { column: contacts.firstSource, value: query.source, counter: COUNTERS.contactsFromSource(query.source) }
      return seqPage<Contact>(db, { table: contacts, workspaceId, counter: COUNTERS.contacts, source, where, req })
    },

    update(workspaceId, id, _keys, change) {
      return write(deps, (tx) => {
        const current = rowInWorkspace(tx, contacts, workspaceId, id, 'contact')
        const next = change(current)
        if (next.email !== null && next.email !== current.email) {
          const taken = tx
            .select({ id: contacts.id })
            .from(contacts)
            .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.email, next.email), ne(contacts.id, id)))
            .get()
          if (taken) throw emailTaken(next.email)
        }
        return tx.update(contacts).set(next).where(eq(contacts.id, id)).returning().get()!
      })
    },
  }
}
