/** Contacts on SQLite: synchronous drizzle inside the unit of work, prepared statements on the ingest path. */
import { and, desc, eq, gte, inArray, lt, ne, or, sql, type SQL } from 'drizzle-orm'
import { rowInWorkspace } from '../../db/in-workspace'
import { prepared, rawStatement, rawTable } from '../../db/prepared'
import { contactNameKey, contacts, deals, leads } from '../../db/schema'
import { seqPage } from '../../db/seq-page'
import { COUNTERS, nextSeq, type DbOrTx, type Tx } from '../../db/tx'
import { write } from '../../db/unit-of-work'
import type { ServiceDeps } from '../../deps'
import type { PageRequest } from '../../lib/pagination'
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core'
import { newId } from '../../lib/ids'
import { isCommon, planSearchPage, SEARCH_COUNT_LIMIT, type PrefixRange, type SearchTerms } from './search'
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
 * lead_count is bumped. Returns the metadata keys dropped, and whether the contact is new.
 */
export function upsertContactForLead(
  tx: Tx,
  now: number,
  workspaceId: string,
  person: LeadPerson,
): { contact: Contact; droppedMetadataKeys: string[]; created: boolean } {
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
    return { contact, droppedMetadataKeys: dropped, created: false }
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
  return { contact: row, droppedMetadataKeys: [], created: true }
}

/** `value` in the range, both ends lower-cased by SQLite as the indexed name expressions are. */
function inLowerRange(value: SQL, range: PrefixRange): SQL {
  return sql`${value} >= lower(${range.from}) and ${value} < lower(${range.to})`
}

function inRange(column: SQLiteColumn, range: PrefixRange): SQL {
  return sql`${column} >= ${range.from} and ${column} < ${range.to}`
}

/** The search's conditions, each served by one index (see search.ts). */
function searchArms(terms: SearchTerms): SQL[] {
  const arms = [inLowerRange(contactNameKey(contacts), terms.name), inLowerRange(sql`lower(${contacts.lastName})`, terms.name)]
  if (terms.email) arms.push(inRange(contacts.email, terms.email))
  for (const phone of terms.phones) arms.push(inRange(contacts.phone, phone))
  return arms
}

/** One page of search results, newest first (search.ts tells how). */
function searchPage(db: DbOrTx, workspaceId: string, terms: SearchTerms, where: SQL[], req: PageRequest) {
  const scope = [eq(contacts.workspaceId, workspaceId), ...where]
  const arms = searchArms(terms)
  // Counted in SQLite first: a common prefix then costs no rows handed to JavaScript.
  const counts = arms.map(
    // drizzle's get() on raw SQL answers the row as an array of its values.
    (arm) => db.get<[number]>(sql`SELECT count(*) FROM (SELECT 1 FROM contacts WHERE ${and(...scope, arm)} LIMIT ${SEARCH_COUNT_LIMIT + 1})`)[0],
  )
  const found = isCommon(counts)
    ? null
    : arms.map((arm) =>
        db
          .select({ seq: contacts.seq })
          .from(contacts)
          .where(and(...scope, arm))
          .all()
          .map((r) => r.seq),
      )
  const plan = planSearchPage(found, req)
  if (plan.kind === 'empty') return { rows: [], total: plan.total, hasMore: false }
  if (plan.kind === 'exact') {
    const rows =
      plan.seqs.length === 0
        ? []
        : db
            .select()
            .from(contacts)
            .where(and(scope[0], inArray(contacts.seq, plan.seqs)))
            .orderBy(desc(contacts.seq))
            .all()
    return { rows, total: plan.total, hasMore: plan.hasMore }
  }
  // A common prefix: newest first along the seq index, which meets a page of matches soon; without
  // INDEXED BY SQLite may prefer the arms' indexes and sort every match.
  const conditions = and(...scope, or(...arms), plan.beforeSeq === null ? undefined : lt(contacts.seq, plan.beforeSeq))
  const raw = db.all<Record<string, unknown>>(
    sql`SELECT ${sql.raw(contactRows.columns)} FROM contacts INDEXED BY contacts_seq_idx WHERE ${conditions} ORDER BY seq DESC LIMIT ${plan.take + 1} OFFSET ${plan.skip}`,
  )
  const rows = raw.slice(0, plan.take).map((r) => contactRows.decode(r))
  const more = raw.length > plan.take && (plan.beforeSeq !== null || plan.skip + plan.take < plan.total)
  return { rows, total: plan.total, hasMore: more }
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
      if (query.search)
        return searchPage(db, workspaceId, query.search, query.source === undefined ? where : [...where, eq(contacts.firstSource, query.source)], req)
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
