/**
 * Contacts on PostgreSQL. Several nodes write at once, so matching is explicit: a lead's email and
 * phone are advisory-locked before the look-up (the rows may not exist yet), a matched contact is
 * taken FOR UPDATE, and the unique index on (workspace, email) backs it all up.
 */
import { and, count, desc, eq, gte, inArray, like, lt, ne, or, sql, type SQL } from 'drizzle-orm'
import type { PgColumn } from 'drizzle-orm/pg-core'
import type { PgDb } from '../../db/pg/client'
import { rowInWorkspacePg, seqPagePg } from '../../db/pg/pages'
import { apiKeys, contactNameKeyPg, contacts, deals, erasedSeqs, events, idempotencyKeys, leads, webhookAttempts, webhookDeliveries } from '../../db/pg/schema'
import { lockKeys, writePg, type PgEmit, type PgTx } from '../../db/pg/unit-of-work'
import { COUNTERS } from '../../db/tx'
import type { ServiceDeps } from '../../deps'
import { ApiError, notFound } from '../../errors'
import type { PageRequest } from '../../lib/pagination'
import { answerMentioning, contactDeletedData, erasedTitle, erasureAudit, freedSeqs, personalTexts, redactedPayload, type ErasureReceipt } from './erasure'
import { isCommon, planSearchPage, SEARCH_COUNT_LIMIT, type PrefixRange, type SearchTerms } from './search'
import type { Contact, LeadPerson } from './service'
import { emailTaken, type ContactsStore } from './store'

/** The advisory-lock keys of a contact's email and phone in a workspace: every writer that may create or claim them takes these first. */
export function contactKeys(workspaceId: string, email: string | null | undefined, phone: string | null | undefined): string[] {
  const keys: string[] = []
  if (email) keys.push(`contact-email:${workspaceId}:${email}`)
  if (phone) keys.push(`contact-phone:${workspaceId}:${phone}`)
  return keys
}

/** A contact row as raw SQL returns it (snake_case, int8 as text, JSON as text). */
interface ContactRow {
  id: string
  workspace_id: string
  seq: string | number
  source_seq: string | number
  email: string | null
  phone: string | null
  first_name: string | null
  last_name: string | null
  first_source: string
  last_source: string
  metadata: string
  lead_count: number
  created_at: string | number
  updated_at: string | number
}

/** A raw contact row as the service's Contact. */
function contactFromRow(r: ContactRow): Contact {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    seq: Number(r.seq),
    sourceSeq: Number(r.source_seq),
    email: r.email,
    phone: r.phone,
    firstName: r.first_name,
    lastName: r.last_name,
    firstSource: r.first_source,
    lastSource: r.last_source,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    leadCount: Number(r.lead_count),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }
}

/**
 * The lead's contact, taken FOR UPDATE, or undefined when the lead makes a new one. The email and
 * phone are advisory-locked first, in their own statement: a look-up in the same statement would
 * read a snapshot taken before the lock was granted and miss a contact its holder just committed.
 * The locks are held to the commit, so no other transaction creates or claims this email or phone
 * meanwhile: the caller may insert a new contact without a race.
 */
export async function findContactForLeadPg(tx: PgTx, workspaceId: string, person: LeadPerson): Promise<Contact | undefined> {
  await lockKeys(tx, contactKeys(workspaceId, person.email, person.phone))
  for (let attempt = 0; ; attempt++) {
    const rows: ContactRow[] = person.email
      ? // By email, else a phone-only contact with this phone (it gains the email).
        await tx.$client`
          SELECT * FROM contacts WHERE id = COALESCE(
            (SELECT id FROM contacts WHERE workspace_id = ${workspaceId} AND email = ${person.email}),
            (SELECT id FROM contacts WHERE workspace_id = ${workspaceId} AND phone = ${person.phone} AND email IS NULL ORDER BY seq DESC LIMIT 1))
          FOR UPDATE`
      : await tx.$client`
          SELECT * FROM contacts WHERE id =
            (SELECT id FROM contacts WHERE workspace_id = ${workspaceId} AND phone = ${person.phone} ORDER BY seq DESC LIMIT 1)
          FOR UPDATE`
    const found = rows[0] && contactFromRow(rows[0])
    // FOR UPDATE hands over the newest version of the row: an edit committed while we waited for it
    // (a PATCH took its phone away, or gave it another email) means it no longer matches: look again.
    if (!found || matches(found, person)) return found
    if (attempt === MATCH_ATTEMPTS) return undefined
  }
}

/** Look-ups again of a lead's contact edited away under it (each needs another concurrent PATCH); then it gets a new one. */
const MATCH_ATTEMPTS = 3

/** Whether a contact is still the one a lead's person matches. */
function matches(contact: Contact, person: LeadPerson): boolean {
  if (person.email && contact.email === person.email) return true
  return contact.phone === person.phone && (person.email ? contact.email === null : true)
}

/** The constraint a unique violation names, when `error` is one (also wrapped by drizzle as its cause). */
function uniqueViolation(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const pg = e as { errno?: string; constraint?: string }
    if (pg.errno === '23505') return pg.constraint ?? ''
  }
  return undefined
}

/** `value` in the range in byte order, as the search indexes (COLLATE "C") keep it. */
function inRange(value: SQL | PgColumn, range: PrefixRange, lowered: boolean): SQL {
  const bound = (text: string) => (lowered ? sql`lower(${text})` : sql`${text}`)
  return sql`(${value} COLLATE "C") >= ${bound(range.from)} and (${value} COLLATE "C") < ${bound(range.to)}`
}

/** The search's conditions, each served by one index (see search.ts). */
function searchArms(terms: SearchTerms): SQL[] {
  const arms = [inRange(contactNameKeyPg(contacts), terms.name, true), inRange(sql`lower(${contacts.lastName})`, terms.name, true)]
  if (terms.email) arms.push(inRange(contacts.email, terms.email, false))
  for (const phone of terms.phones) arms.push(inRange(contacts.phone, phone, false))
  return arms
}

/** One page of search results, newest first (search.ts tells how). */
async function searchPagePg(pg: PgDb, workspaceId: string, terms: SearchTerms, where: SQL[], req: PageRequest) {
  const scope = [eq(contacts.workspaceId, workspaceId), ...where]
  const arms = searchArms(terms)
  // Counted in the database first: a common prefix then costs no rows sent to this process.
  const counts = await Promise.all(
    arms.map(async (arm) => {
      const bounded = pg
        .select({ one: sql`1` })
        .from(contacts)
        .where(and(...scope, arm))
        .limit(SEARCH_COUNT_LIMIT + 1)
        .as('bounded')
      const [row] = await pg.select({ n: count() }).from(bounded)
      return row!.n
    }),
  )
  const found = isCommon(counts)
    ? null
    : await Promise.all(
        arms.map(async (arm) => {
          const rows = await pg
            .select({ seq: contacts.seq })
            .from(contacts)
            .where(and(...scope, arm))
          return rows.map((r) => r.seq)
        }),
      )
  const plan = planSearchPage(found, req)
  if (plan.kind === 'empty') return { rows: [], total: plan.total, hasMore: false }
  if (plan.kind === 'exact') {
    const rows =
      plan.seqs.length === 0
        ? []
        : await pg
            .select()
            .from(contacts)
            .where(and(scope[0], inArray(contacts.seq, plan.seqs)))
            .orderBy(desc(contacts.seq))
    return { rows, total: plan.total, hasMore: plan.hasMore }
  }
  // A common prefix: the planner walks the (workspace, seq) index newest first, which meets a page of matches soon.
  const walked = await pg
    .select()
    .from(contacts)
    .where(and(...scope, or(...arms), plan.beforeSeq === null ? undefined : lt(contacts.seq, plan.beforeSeq)))
    .orderBy(desc(contacts.seq))
    .limit(plan.take + 1)
    .offset(plan.skip)
  const more = walked.length > plan.take && (plan.beforeSeq !== null || plan.skip + plan.take < plan.total)
  return { rows: walked.slice(0, plan.take), total: plan.total, hasMore: more }
}

/** Times an erasure runs again when its contact changed between the look-up and the locks (a concurrent edit or lead). */
const ERASE_ATTEMPTS = 3

/** The contact's email, phone or leads changed while its erasure took its locks: run it again with the new ones. */
class ContactMoved extends Error {}

/**
 * Erases a contact in the caller's transaction. Locks, in the documented order (advisory → rows →
 * counters): the advisory keys of its email and phone, which every lead that could match it takes
 * first, so a concurrent lead for it either commits before (its lead is erased too) or waits and then
 * finds no contact (it makes a fresh one); then its leads and its deals FOR UPDATE (a conversion locks
 * the lead, then the contact), then the contact; the erased counters last. The locked contact is
 * compared with the one whose keys were locked: a PATCH or a lead in between throws ContactMoved.
 */
async function eraseContactPg(tx: PgTx, emit: PgEmit, workspaceId: string, id: string, now: number): Promise<ErasureReceipt> {
  const seen = await rowInWorkspacePg(tx, contacts, workspaceId, id, 'contact')
  await lockKeys(tx, contactKeys(workspaceId, seen.email, seen.phone))
  const ofContact = eq(leads.contactId, id)
  const erased = await tx
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
    .for('update')
  const linkedWhere = and(
    eq(deals.workspaceId, workspaceId),
    or(eq(deals.contactId, id), inArray(deals.leadId, tx.select({ id: leads.id }).from(leads).where(ofContact))),
  )
  await tx.select({ id: deals.id }).from(deals).where(linkedWhere).orderBy(deals.id).for('update')
  const [contact] = await tx
    .select()
    .from(contacts)
    .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, id)))
    .for('update')
  if (!contact) throw notFound('contact', id)
  const leadsNow = await tx.select({ id: leads.id }).from(leads).where(ofContact)
  if (contact.email !== seen.email || contact.phone !== seen.phone || leadsNow.length !== erased.length) throw new ContactMoved()
  const personal = personalTexts([contact, ...erased])

  // Deals stay (business data), without their link to the person; a deal linked meanwhile is found here too.
  const linked = await tx.select({ id: deals.id, title: deals.title }).from(deals).where(linkedWhere)
  for (const deal of linked)
    await tx
      .update(deals)
      .set({ contactId: null, leadId: null, title: erasedTitle(deal.title, personal), updatedAt: now })
      .where(eq(deals.id, deal.id))

  // Events that carried the person: redacted to ids; their receivers' answers (which may echo the payload) are dropped.
  const carried = await tx.select({ id: events.id, payload: events.payload }).from(events).where(eq(events.contactId, id))
  for (const event of carried)
    await tx
      .update(events)
      .set({ payload: redactedPayload(event.payload, personal), contactId: null })
      .where(eq(events.id, event.id))
  for (const ids of chunks(carried.map((e) => e.id))) {
    const deliveries = tx.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(inArray(webhookDeliveries.eventId, ids))
    await tx.update(webhookAttempts).set({ responseBody: null }).where(inArray(webhookAttempts.deliveryId, deliveries))
  }

  // A conversion's stored Idempotency-Key answer carries its lead in full: dropped, so a retry now answers 404.
  const workspaceKeys = tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.workspaceId, workspaceId))
  for (const lead of erased)
    if (lead.status === 'converted')
      await tx
        .delete(idempotencyKeys)
        .where(and(inArray(idempotencyKeys.apiKeyId, workspaceKeys), like(idempotencyKeys.responseBody, answerMentioning(lead.id))))
  // A deal's stored answer (POST /deals) carries its title: dropped when the title was the person's, as the deal's own was replaced.
  for (const deal of linked)
    if (erasedTitle(deal.title, personal) !== deal.title)
      await tx
        .delete(idempotencyKeys)
        .where(and(inArray(idempotencyKeys.apiKeyId, workspaceKeys), like(idempotencyKeys.responseBody, answerMentioning(deal.id))))

  await tx.delete(leads).where(ofContact)
  await tx.delete(contacts).where(eq(contacts.id, id))
  const freed = freedSeqs(contact, erased)
  for (const rows of chunks(freed)) await tx.insert(erasedSeqs).values(rows.map(({ counter, seq }) => ({ workspaceId, counter, seq })))
  await addToCounters(
    tx,
    workspaceId,
    freed.map(({ counter }) => COUNTERS.erased(counter)),
  )
  const receipt = { contactId: id, leadIds: erased.map((l) => l.id), dealsUnlinked: linked.length, eventsRedacted: carried.length, deletedAt: now }
  await emit(workspaceId, 'contact.deleted', contactDeletedData(receipt), now)
  await emit.audit(erasureAudit(workspaceId, receipt), now)
  return receipt
}

/** Rows or ids per statement: PostgreSQL binds at most 65,535 parameters, and a contact may have thousands of leads. */
const PER_STATEMENT = 5_000

/** `items` in slices of PER_STATEMENT. */
function chunks<T>(items: T[]): T[][] {
  const slices: T[][] = []
  for (let i = 0; i < items.length; i += PER_STATEMENT) slices.push(items.slice(i, i + PER_STATEMENT))
  return slices
}

/** Adds one to a counter per time its name is listed, in one statement, rows in sorted order (like nextSeqs). */
async function addToCounters(tx: PgTx, workspaceId: string, names: string[]): Promise<void> {
  const counts = new Map<string, number>()
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1)
  const sorted = [...counts.keys()].sort()
  const by = sorted.map((name) => counts.get(name)!)
  await tx.$client`
    INSERT INTO counters (workspace_id, name, value)
    SELECT ${workspaceId}, name, n FROM unnest(${sorted}::text[], ${by}::bigint[]) WITH ORDINALITY AS c(name, n, ord) ORDER BY ord
    ON CONFLICT (workspace_id, name) DO UPDATE SET value = counters.value + excluded.value`
}

/** The contacts store on PostgreSQL. */
export function pgContactsStore(deps: ServiceDeps & { pg: PgDb }): ContactsStore {
  const { pg } = deps
  return {
    get(workspaceId, id) {
      return rowInWorkspacePg(pg, contacts, workspaceId, id, 'contact')
    },

    async detail(workspaceId, id, recent) {
      const contact = await rowInWorkspacePg(pg, contacts, workspaceId, id, 'contact')
      const [recentLeads, recentDeals] = await Promise.all([
        pg.select().from(leads).where(eq(leads.contactId, contact.id)).orderBy(desc(leads.createdAt), desc(leads.seq)).limit(recent),
        pg
          .select()
          .from(deals)
          .where(and(eq(deals.workspaceId, workspaceId), eq(deals.contactId, contact.id)))
          .orderBy(desc(deals.createdAt), desc(deals.id))
          .limit(recent),
      ])
      return { contact, leads: recentLeads, deals: recentDeals }
    },

    list(workspaceId, query, req) {
      const where = []
      if (query.email !== undefined) where.push(eq(contacts.email, query.email))
      if (query.updatedSince !== undefined) where.push(gte(contacts.updatedAt, query.updatedSince))
      if (query.search)
        return searchPagePg(pg, workspaceId, query.search, query.source === undefined ? where : [...where, eq(contacts.firstSource, query.source)], req)
      const source =
        query.source === undefined ? undefined : { column: contacts.firstSource, value: query.source, counter: COUNTERS.contactsFromSource(query.source) }
      return seqPagePg<Contact>(pg, { table: contacts, workspaceId, counter: COUNTERS.contacts, source, where, req })
    },

    async update(workspaceId, id, keys, change) {
      try {
        return await writePg(deps, async (tx) => {
          // A new email or phone is locked as lead ingest locks it, before the row: a lead cannot make
          // a second contact with it meanwhile, and every writer takes advisory locks before row locks.
          await lockKeys(tx, contactKeys(workspaceId, keys.email, keys.phone))
          const [current] = await tx
            .select()
            .from(contacts)
            .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.id, id)))
            .for('update')
          if (!current) throw notFound('contact', id)
          const next = change(current)
          if (next.email !== null && next.email !== current.email) {
            const [taken] = await tx
              .select({ id: contacts.id })
              .from(contacts)
              .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.email, next.email), ne(contacts.id, id)))
            if (taken) throw emailTaken(next.email)
          }
          const [updated] = await tx.update(contacts).set(next).where(eq(contacts.id, id)).returning()
          return updated!
        })
      } catch (error) {
        // Only reachable if a writer skipped the lock: the index still refuses, with the same 409.
        if (uniqueViolation(error) === 'contacts_email_idx' && keys.email) throw emailTaken(keys.email)
        throw error
      }
    },

    async erase(workspaceId, id, now) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await writePg(deps, (tx, emit) => eraseContactPg(tx, emit, workspaceId, id, now))
        } catch (error) {
          if (!(error instanceof ContactMoved)) throw error
          if (attempt === ERASE_ATTEMPTS) throw new ApiError('conflict', 'The contact kept changing while it was being erased; try again.')
        }
      }
    },
  }
}
