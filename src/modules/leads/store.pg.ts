/**
 * Leads on PostgreSQL: the ingest hot path of several nodes at once.
 *
 * A lead's transaction: (1) lock the email and phone and find the contact, FOR UPDATE
 * (findContactForLeadPg); read the endpoints subscribed to `lead.created`; (2) take every counter
 * it needs in ONE statement (nextSeqs: leads and its source, plus contacts and its source when the
 * contact is new); (3) write the contact, the lead, the event and its deliveries in ONE statement;
 * commit. The per-workspace counter rows are the hot spot (every lead of a workspace queues on
 * them from (2) to the commit), so while they are held only one more statement runs (plus the
 * request's Idempotency-Key answer, when it has one) before the commit.
 */
import { and, eq, gte, inArray, like, or, sql } from 'drizzle-orm'
import type { PgDb } from '../../db/pg/client'
import { rowInWorkspacePg, seqPagePg } from '../../db/pg/pages'
import { counters, leads } from '../../db/pg/schema'
import { lockKeys, nextSeqs, readCounterPg, writePg, type PgEmit, type PgTx } from '../../db/pg/unit-of-work'
import { COUNTERS } from '../../db/tx'
import type { ServiceDeps } from '../../deps'
import { notFound } from '../../errors'
import { iso } from '../../lib/clock'
import { newEventId, newId } from '../../lib/ids'
import type { Contact } from '../contacts/service'
import { mergedWithLead } from '../contacts/store'
import { contactKeys, findContactForLeadPg } from '../contacts/store.pg'
import { serializeDeal } from '../deals/service'
import { getDealPg, insertDealPg } from '../deals/store.pg'
import { eventLead, type Lead } from './service'
import { liveBySource, newLeadRow, type LeadsStore, type NewLead } from './store'

/** Times a lead's transaction is run again when its new contact lost a race the locks should have prevented. */
const CONTACT_RACE_RETRIES = 3

/** The contact insert found its email (or id) already taken: the look-up under the locks was bypassed; run again. */
class ContactRace extends Error {}

/**
 * Enabled endpoints of the workspace subscribed to `type` (as the outbox selects them), held FOR KEY
 * SHARE: an endpoint deleted meanwhile waits for this commit instead of failing the lead's delivery
 * insert on its foreign key; edits and the recorder (FOR NO KEY UPDATE) are not held up.
 */
async function subscribedEndpoints(tx: PgTx, workspaceId: string, type: string): Promise<string[]> {
  const rows: { id: string; events: string }[] =
    await tx.$client`SELECT id, events FROM webhook_endpoints WHERE workspace_id = ${workspaceId} AND enabled FOR KEY SHARE`
  return rows
    .filter((e) => {
      const events = JSON.parse(e.events) as string[]
      return events.length === 0 || events.includes(type)
    })
    .map((e) => e.id)
}

/**
 * The lead with its contact, event and deliveries, written in one statement after the counters were
 * taken. The outbox rows are the ones emitEventPg (db/pg/unit-of-work.ts) writes, in the same shape,
 * made here to spare its round trips under the counter locks; the caller reports the deliveries
 * with `emit.due`, so the dispatcher is woken after the commit all the same. Without `announce` (an
 * import that does not emit) no event is written.
 */
async function insertLead(
  tx: PgTx,
  lead: Lead,
  existing: Contact | undefined,
  contactSeqs: { seq: number; sourceSeq: number },
  endpointIds: string[],
  announce: boolean,
) {
  const eventId = newEventId()
  const payload = JSON.stringify({ id: eventId, type: 'lead.created', timestamp: iso(lead.createdAt), data: { lead: eventLead(lead) } })
  const deliveryIds = endpointIds.map(() => newId())
  const metadata = JSON.stringify(lead.metadata)
  const context = lead.context === null ? null : JSON.stringify(lead.context)
  const now = lead.createdAt
  const merged = existing && mergedWithLead(existing, lead)
  // The contact's statement differs (update a known one, insert a new one); the rest is the same text.
  const rows: { n: number }[] = merged
    ? await tx.$client`
        WITH c AS (
          UPDATE contacts SET email = ${merged.email}, phone = ${merged.phone}, first_name = ${merged.firstName}, last_name = ${merged.lastName},
            metadata = ${JSON.stringify(merged.metadata)}, lead_count = lead_count + 1, last_source = ${merged.lastSource}, updated_at = ${now}::bigint
          WHERE id = ${existing!.id} RETURNING id
        ), l AS (
          INSERT INTO leads (id, workspace_id, contact_id, seq, source_seq, channel, source, email, phone, first_name, last_name, metadata, context, status, created_at)
          SELECT ${lead.id}, ${lead.workspaceId}, c.id, ${lead.seq}::bigint, ${lead.sourceSeq}::bigint, ${lead.channel}, ${lead.source}, ${lead.email}, ${lead.phone},
            ${lead.firstName}, ${lead.lastName}, ${metadata}, ${context}, 'new', ${now}::bigint FROM c RETURNING id
        ), e AS (
          INSERT INTO events (id, workspace_id, type, payload, contact_id, created_at)
          SELECT ${eventId}, ${lead.workspaceId}, 'lead.created', ${payload}, ${lead.contactId}, ${now}::bigint FROM l WHERE ${announce}::boolean RETURNING id
        ), d AS (
          INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, next_attempt_at, created_at, updated_at)
          SELECT q.id, ${lead.workspaceId}, q.endpoint_id, e.id, ${now}::bigint, ${now}::bigint, ${now}::bigint
          FROM e, unnest(${deliveryIds}::text[], ${endpointIds}::text[]) AS q(id, endpoint_id)
        )
        SELECT count(*)::int AS n FROM l`
    : await tx.$client`
        WITH c AS (
          INSERT INTO contacts (id, workspace_id, seq, source_seq, email, phone, first_name, last_name, first_source, last_source, metadata, lead_count, created_at, updated_at)
          VALUES (${lead.contactId}, ${lead.workspaceId}, ${contactSeqs.seq}::bigint, ${contactSeqs.sourceSeq}::bigint, ${lead.email}, ${lead.phone},
            ${lead.firstName}, ${lead.lastName}, ${lead.source}, ${lead.source}, ${metadata}, 1, ${now}::bigint, ${now}::bigint)
          ON CONFLICT DO NOTHING RETURNING id
        ), l AS (
          INSERT INTO leads (id, workspace_id, contact_id, seq, source_seq, channel, source, email, phone, first_name, last_name, metadata, context, status, created_at)
          SELECT ${lead.id}, ${lead.workspaceId}, c.id, ${lead.seq}::bigint, ${lead.sourceSeq}::bigint, ${lead.channel}, ${lead.source}, ${lead.email}, ${lead.phone},
            ${lead.firstName}, ${lead.lastName}, ${metadata}, ${context}, 'new', ${now}::bigint FROM c RETURNING id
        ), e AS (
          INSERT INTO events (id, workspace_id, type, payload, contact_id, created_at)
          SELECT ${eventId}, ${lead.workspaceId}, 'lead.created', ${payload}, ${lead.contactId}, ${now}::bigint FROM l WHERE ${announce}::boolean RETURNING id
        ), d AS (
          INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, next_attempt_at, created_at, updated_at)
          SELECT q.id, ${lead.workspaceId}, q.endpoint_id, e.id, ${now}::bigint, ${now}::bigint, ${now}::bigint
          FROM e, unnest(${deliveryIds}::text[], ${endpointIds}::text[]) AS q(id, endpoint_id)
        )
        SELECT count(*)::int AS n FROM l`
  // Nothing inserted: the new contact's email (or seq) was taken after all. The counters it took roll back with it.
  if (rows[0]!.n !== 1) throw new ContactRace()
  return merged?.dropped ?? []
}

/**
 * The first lead sequence number created at or after `since`, by binary search over the
 * (workspace, seq) index: leads are numbered in insertion order, so their times ascend with seq
 * (across nodes up to their clocks' skew, which only blurs a chart's day boundary).
 */
async function firstLeadSeqSince(pg: PgDb, workspaceId: string, since: number): Promise<number | null> {
  // A seq whose lead was erased reads as the next lead's time, which keeps the times ascending.
  const createdAt = async (seq: number) => {
    const [row] = await pg
      .select({ t: leads.createdAt })
      .from(leads)
      .where(and(eq(leads.workspaceId, workspaceId), gte(leads.seq, seq)))
      .orderBy(leads.seq)
      .limit(1)
    return row?.t ?? Number.POSITIVE_INFINITY
  }
  const last = await readCounterPg(pg, workspaceId, COUNTERS.leads)
  let lo = 1
  let hi = last + 1
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if ((await createdAt(mid)) >= since) hi = mid
    else lo = mid + 1
  }
  return lo > last ? null : lo
}

/** The leads store on PostgreSQL. */
export function pgLeadsStore(deps: ServiceDeps & { pg: PgDb }): LeadsStore {
  const { pg } = deps
  return {
    get(workspaceId, id) {
      return rowInWorkspacePg(pg, leads, workspaceId, id, 'lead')
    },

    list(workspaceId, query, req) {
      const where = []
      if (query.status !== undefined) where.push(eq(leads.status, query.status))
      if (query.contactId !== undefined) where.push(eq(leads.contactId, query.contactId))
      if (query.createdSince !== undefined) where.push(gte(leads.createdAt, query.createdSince))
      const source = query.source === undefined ? undefined : { column: leads.source, value: query.source, counter: COUNTERS.leadsFromSource(query.source) }
      return seqPagePg<Lead>(pg, { table: leads, workspaceId, counter: COUNTERS.leads, source, where, req })
    },

    async create(workspaceId, now, newLead) {
      for (let attempt = 0; ; attempt++) {
        try {
          return await createOnce(workspaceId, now, newLead)
        } catch (error) {
          if (!(error instanceof ContactRace) || attempt === CONTACT_RACE_RETRIES) throw error
        }
      }
    },

    async importChunk(workspaceId, now, newLeads, options, conclude) {
      for (let attempt = 0; ; attempt++) {
        try {
          return await writePg(deps, async (tx, emit) => {
            // Every row's email and phone locked first, in one sorted statement: rows after the first
            // would otherwise take advisory locks after the counters, against the lock order.
            await lockKeys(
              tx,
              newLeads.flatMap(({ person }) => contactKeys(workspaceId, person.email, person.phone)),
            )
            const imported = []
            for (const newLead of newLeads) {
              const { lead, contactCreated } = await storeLeadPg(tx, emit, workspaceId, now, newLead, options.emitEvents)
              imported.push({ leadId: lead.id, contactId: lead.contactId, contactCreated })
            }
            if (options.audit) await emit.audit(options.audit, now)
            return conclude(imported)
          })
        } catch (error) {
          if (!(error instanceof ContactRace) || attempt === CONTACT_RACE_RETRIES) throw error
        }
      }
    },

    convert(workspaceId, id, now, dealFor) {
      return writePg(deps, async (tx, emit) => {
        // The lead is held until the commit: a concurrent conversion waits here, then finds it converted.
        const [lead] = await tx
          .select()
          .from(leads)
          .where(and(eq(leads.workspaceId, workspaceId), eq(leads.id, id)))
          .for('update')
        if (!lead) throw notFound('lead', id)
        if (lead.status === 'converted') return { lead, deal: await getDealPg(tx, workspaceId, lead.dealId!), created: false }
        const deal = await insertDealPg(tx, emit, now, workspaceId, dealFor(lead))
        const [converted] = await tx.update(leads).set({ status: 'converted', dealId: deal.id, convertedAt: now }).where(eq(leads.id, lead.id)).returning()
        await emit(workspaceId, 'lead.converted', { lead: eventLead(converted!), deal: serializeDeal(deal) }, now, converted!.contactId)
        return { lead: converted!, deal, created: true }
      })
    },

    async countsPerDay(workspaceId, since, dayMs) {
      const counts = new Map<number, number>()
      const firstSeq = await firstLeadSeqSince(pg, workspaceId, since)
      if (firstSeq === null) return counts
      const dayIndex = sql<number>`(${leads.createdAt} - ${since}) / ${dayMs}`
      const rows = await pg
        .select({ day: dayIndex, n: sql<number>`count(*)` })
        .from(leads)
        .where(and(eq(leads.workspaceId, workspaceId), gte(leads.seq, firstSeq), gte(leads.createdAt, since)))
        // By position: the expression's parameters are bound twice otherwise, and PostgreSQL cannot tell they match.
        .groupBy(sql`1`)
      for (const r of rows) counts.set(Number(r.day), Number(r.n))
      return counts
    },

    async countsBySource(workspaceId) {
      const kept = await pg
        .select({ name: counters.name, value: counters.value })
        .from(counters)
        .where(
          and(
            eq(counters.workspaceId, workspaceId),
            or(like(counters.name, `${COUNTERS.leadsSourcePrefix}%`), like(counters.name, `${COUNTERS.erased(COUNTERS.leadsSourcePrefix)}%`)),
          ),
        )
      return liveBySource(kept)
    },

    async totals(workspaceId) {
      // One statement: the four counters from one snapshot.
      const names = [COUNTERS.leads, COUNTERS.contacts, COUNTERS.erased(COUNTERS.leads), COUNTERS.erased(COUNTERS.contacts)]
      const rows = await pg
        .select({ name: counters.name, value: counters.value })
        .from(counters)
        .where(and(eq(counters.workspaceId, workspaceId), inArray(counters.name, names)))
      const value = (name: string) => rows.find((r) => r.name === name)?.value ?? 0
      return {
        leads: value(COUNTERS.leads) - value(COUNTERS.erased(COUNTERS.leads)),
        contacts: value(COUNTERS.contacts) - value(COUNTERS.erased(COUNTERS.contacts)),
      }
    },
  }

  /** One run of a lead's transaction (see the file comment). */
  async function createOnce(workspaceId: string, now: number, newLead: NewLead) {
    let droppedMetadataKeys: string[] = []
    const lead = await writePg(deps, async (tx, emit) => {
      const stored = await storeLeadPg(tx, emit, workspaceId, now, newLead, true)
      droppedMetadataKeys = stored.droppedMetadataKeys
      return stored.lead
    })
    return { lead, droppedMetadataKeys }
  }
}

/**
 * Stores a lead inside the caller's transaction (see the file comment): its contact found or created
 * and merged, the lead inserted, and `lead.created` with its deliveries when `announce` is set. One
 * function for ingest and import.
 */
async function storeLeadPg(tx: PgTx, emit: PgEmit, workspaceId: string, now: number, { channel, person, context }: NewLead, announce: boolean) {
  const existing = await findContactForLeadPg(tx, workspaceId, person)
  const endpointIds = announce ? await subscribedEndpoints(tx, workspaceId, 'lead.created') : []
  const contactCounters = existing ? [] : [COUNTERS.contacts, COUNTERS.contactsFromSource(person.source)]
  const seqs = await nextSeqs(tx, workspaceId, [COUNTERS.leads, COUNTERS.leadsFromSource(person.source), ...contactCounters])
  const lead = newLeadRow(
    workspaceId,
    now,
    { channel, person, context },
    {
      contactId: existing?.id ?? newId(),
      seq: seqs[COUNTERS.leads]!,
      sourceSeq: seqs[COUNTERS.leadsFromSource(person.source)]!,
    },
  )
  const contactSeqs = { seq: seqs[COUNTERS.contacts] ?? 0, sourceSeq: seqs[COUNTERS.contactsFromSource(person.source)] ?? 0 }
  const droppedMetadataKeys = await insertLead(tx, lead, existing, contactSeqs, endpointIds, announce)
  emit.due(endpointIds.length)
  return { lead, droppedMetadataKeys, contactCreated: !existing }
}
