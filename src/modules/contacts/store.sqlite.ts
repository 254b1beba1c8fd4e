/** Contacts on SQLite: synchronous drizzle inside the unit of work, prepared statements on the ingest path. */
import { and, desc, eq, gte, inArray, like, lt, ne, or, sql, type SQL } from 'drizzle-orm'
import { rowInWorkspace } from '../../db/in-workspace'
import { prepared, rawStatement, rawTable } from '../../db/prepared'
import { apiKeys, contactNameKey, contacts, deals, erasedSeqs, events, idempotencyKeys, leads, webhookAttempts, webhookDeliveries } from '../../db/schema'
import { seqPage } from '../../db/seq-page'
import { COUNTERS, nextSeq, type DbOrTx, type Tx } from '../../db/tx'
import { write, type Emit } from '../../db/unit-of-work'
import type { ServiceDeps } from '../../deps'
import type { PageRequest } from '../../lib/pagination'
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core'
import { newId } from '../../lib/ids'
import { answerMentioning, contactDeletedData, erasedTitle, erasureAudit, freedSeqs, personalTexts, redactedPayload, type ErasureReceipt } from './erasure'
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

/** Erases `contact` inside the caller's unit of work (see ContactsStore.erase and erasure.ts). */
function eraseContact(tx: Tx, emit: Emit, contact: Contact, now: number): ErasureReceipt {
  const workspaceId = contact.workspaceId
  const ofContact = eq(leads.contactId, contact.id)
  const erased = tx
    .select({
      id: leads.id,
      seq: leads.seq,
      sourceSeq: leads.sourceSeq,
      source: leads.source,
      status: leads.status,
      firstName: leads.firstName,
      lastName: leads.lastName,
      email: leads.email,
      phone: leads.phone,
    })
    .from(leads)
    .where(ofContact)
    .orderBy(desc(leads.seq))
    .all()
  const personal = personalTexts([contact, ...erased])

  // Deals stay (business data), without their link to the person (also deals moved to another contact but made from one of its leads).
  const linked = tx
    .select({ id: deals.id, title: deals.title })
    .from(deals)
    .where(
      and(
        eq(deals.workspaceId, workspaceId),
        or(eq(deals.contactId, contact.id), inArray(deals.leadId, tx.select({ id: leads.id }).from(leads).where(ofContact))),
      ),
    )
    .all()
  for (const deal of linked)
    tx.update(deals)
      .set({ contactId: null, leadId: null, title: erasedTitle(deal.title, personal), updatedAt: now })
      .where(eq(deals.id, deal.id))
      .run()

  // Events that carried the person: redacted to ids; their receivers' answers (which may echo the payload) are dropped.
  const carried = tx.select({ id: events.id, payload: events.payload }).from(events).where(eq(events.contactId, contact.id)).all()
  for (const event of carried) {
    tx.update(events)
      .set({ payload: redactedPayload(event.payload, personal), contactId: null })
      .where(eq(events.id, event.id))
      .run()
    const deliveries = tx.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(eq(webhookDeliveries.eventId, event.id))
    tx.update(webhookAttempts).set({ responseBody: null }).where(inArray(webhookAttempts.deliveryId, deliveries)).run()
  }

  // A conversion's stored Idempotency-Key answer carries its lead in full: dropped, so a retry now answers 404.
  const workspaceKeys = tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.workspaceId, workspaceId))
  for (const lead of erased)
    if (lead.status === 'converted')
      tx.delete(idempotencyKeys)
        .where(and(inArray(idempotencyKeys.apiKeyId, workspaceKeys), like(idempotencyKeys.responseBody, answerMentioning(lead.id))))
        .run()
  // A deal's stored answer (POST /deals) carries its title: dropped when the title was the person's, as the deal's own was replaced.
  for (const deal of linked)
    if (erasedTitle(deal.title, personal) !== deal.title)
      tx.delete(idempotencyKeys)
        .where(and(inArray(idempotencyKeys.apiKeyId, workspaceKeys), like(idempotencyKeys.responseBody, answerMentioning(deal.id))))
        .run()

  tx.delete(leads).where(ofContact).run()
  tx.delete(contacts).where(eq(contacts.id, contact.id)).run()
  for (const { counter, seq } of freedSeqs(contact, erased)) {
    tx.insert(erasedSeqs).values({ workspaceId, counter, seq }).run()
    nextSeq(tx, workspaceId, COUNTERS.erased(counter))
  }
  const receipt = { contactId: contact.id, leadIds: erased.map((l) => l.id), dealsUnlinked: linked.length, eventsRedacted: carried.length, deletedAt: now }
  emit(workspaceId, 'contact.deleted', contactDeletedData(receipt), now)
  emit.audit(erasureAudit(workspaceId, receipt), now)
  return receipt
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

    erase(workspaceId, id, now) {
      return write(deps, (tx, emit) => {
        const contact = rowInWorkspace(tx, contacts, workspaceId, id, 'contact')
        // While erasing, SQLite zeroes freed cells and pages, so the person's data does not stay in the file's free space.
        const { secure_delete: before } = tx.get<{ secure_delete: number }>(sql`PRAGMA secure_delete`)
        tx.run(sql`PRAGMA secure_delete = ON`)
        try {
          return eraseContact(tx, emit, contact, now)
        } finally {
          // Back to the connection's setting (FAST, see db/client.ts), given as SQLite reports it (0, 1 or 2).
          tx.run(sql.raw(`PRAGMA secure_delete = ${Number(before)}`))
        }
      })
    },
  }
}
