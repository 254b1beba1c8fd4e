/** Leads on SQLite: synchronous drizzle inside the unit of work; ingest is group-committed with prepared statements. */
import { and, eq, gte, like, or, sql } from 'drizzle-orm'
import { rowInWorkspace } from '../../db/in-workspace'
import { rawStatement, rawTable } from '../../db/prepared'
import { counters, deals, leads } from '../../db/schema'
import { seqPage } from '../../db/seq-page'
import { COUNTERS, liveCount, nextSeq, readCounter, type DbOrTx, type Tx } from '../../db/tx'
import { write, writeBatched, type Emit } from '../../db/unit-of-work'
import type { ServiceDeps } from '../../deps'
import { upsertContactForLead } from '../contacts/store.sqlite'
import { serializeDeal } from '../deals/service'
import { insertDeal } from '../deals/store.sqlite'
import { eventLead, type Lead } from './service'
import { liveBySource, newLeadRow, type LeadsStore, type NewLead } from './store'

/**
 * The first lead sequence number created at or after `since`, by binary search over the
 * (workspace, seq) index: leads are numbered in insertion order, so their times ascend with seq.
 * A seq whose lead was erased reads as the next lead's time, which keeps the times ascending.
 */
function firstLeadSeqSince(db: DbOrTx, workspaceId: string, since: number): number | null {
  const createdAt = (seq: number) =>
    db
      .select({ t: leads.createdAt })
      .from(leads)
      .where(and(eq(leads.workspaceId, workspaceId), gte(leads.seq, seq)))
      .orderBy(leads.seq)
      .limit(1)
      .get()?.t ?? Number.POSITIVE_INFINITY
  let lo = 1
  let hi = readCounter(db, workspaceId, COUNTERS.leads) + 1
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if (createdAt(mid) >= since) hi = mid
    else lo = mid + 1
  }
  return lo > readCounter(db, workspaceId, COUNTERS.leads) ? null : lo
}

/** Leads as the ingest path writes them, on bun:sqlite directly. */
const leadRows = rawTable(leads)

/**
 * Stores a lead inside the caller's unit of work: its contact found or created and merged, the lead
 * inserted, and `lead.created` emitted when `announce` is set. One function for ingest and import.
 */
function storeLead(tx: Tx, emit: Emit, workspaceId: string, now: number, { channel, person, context }: NewLead, announce: boolean) {
  const upserted = upsertContactForLead(tx, now, workspaceId, person)
  const lead = newLeadRow(
    workspaceId,
    now,
    { channel, person, context },
    {
      contactId: upserted.contact.id,
      seq: nextSeq(tx, workspaceId, COUNTERS.leads),
      sourceSeq: nextSeq(tx, workspaceId, COUNTERS.leadsFromSource(person.source)),
    },
  )
  rawStatement(tx, 'leads.insert', leadRows.insert).run(leadRows.encode(lead))
  if (announce) emit(workspaceId, 'lead.created', { lead: eventLead(lead) }, now, lead.contactId)
  return { lead, droppedMetadataKeys: upserted.droppedMetadataKeys, contactCreated: upserted.created }
}

/** The leads store on the SQLite database of `deps`. */
export function sqliteLeadsStore(deps: ServiceDeps): LeadsStore {
  const { db } = deps
  return {
    async get(workspaceId, id) {
      return rowInWorkspace(db, leads, workspaceId, id, 'lead')
    },

    async list(workspaceId, query, req) {
      const where = []
      if (query.status !== undefined) where.push(eq(leads.status, query.status))
      if (query.contactId !== undefined) where.push(eq(leads.contactId, query.contactId))
      if (query.createdSince !== undefined) where.push(gte(leads.createdAt, query.createdSince))
      const source = query.source === undefined ? undefined : { column: leads.source, value: query.source, counter: COUNTERS.leadsFromSource(query.source) }
      return seqPage<Lead>(db, { table: leads, workspaceId, counter: COUNTERS.leads, source, where, req })
    },

    async create(workspaceId, now, newLead) {
      // Set by the run that commits; the work's result is the lead, which a stored answer is made from.
      let droppedMetadataKeys: string[] = []
      const lead = await writeBatched(deps, (tx, emit) => {
        const stored = storeLead(tx, emit, workspaceId, now, newLead, true)
        droppedMetadataKeys = stored.droppedMetadataKeys
        return stored.lead
      })
      return { lead, droppedMetadataKeys }
    },

    importChunk(workspaceId, now, newLeads, options, conclude) {
      return write(deps, (tx, emit) => {
        const imported = newLeads.map((newLead) => {
          const { lead, contactCreated } = storeLead(tx, emit, workspaceId, now, newLead, options.emitEvents)
          return { leadId: lead.id, contactId: lead.contactId, contactCreated }
        })
        if (options.audit) emit.audit(options.audit, now)
        return conclude(imported)
      })
    },

    convert(workspaceId, id, now, dealFor) {
      return write(deps, (tx, emit) => {
        const lead = rowInWorkspace(tx, leads, workspaceId, id, 'lead')
        if (lead.status === 'converted') return { lead, deal: rowInWorkspace(tx, deals, workspaceId, lead.dealId!, 'deal'), created: false }
        const deal = insertDeal(tx, emit, now, workspaceId, dealFor(lead))
        const converted = tx.update(leads).set({ status: 'converted', dealId: deal.id, convertedAt: now }).where(eq(leads.id, lead.id)).returning().get()!
        emit(workspaceId, 'lead.converted', { lead: eventLead(converted), deal: serializeDeal(deal) }, now, converted.contactId)
        return { lead: converted, deal, created: true }
      })
    },

    async countsPerDay(workspaceId, since, dayMs) {
      const firstSeq = firstLeadSeqSince(db, workspaceId, since)
      const counts = new Map<number, number>()
      if (firstSeq === null) return counts
      const dayIndex = sql<number>`(${leads.createdAt} - ${since}) / ${dayMs}`
      const rows = db
        .select({ day: dayIndex, n: sql<number>`count(*)` })
        .from(leads)
        .where(and(eq(leads.workspaceId, workspaceId), gte(leads.seq, firstSeq), gte(leads.createdAt, since)))
        .groupBy(dayIndex)
        .all()
      for (const r of rows) counts.set(Number(r.day), r.n)
      return counts
    },

    async countsBySource(workspaceId) {
      const kept = db
        .select({ name: counters.name, value: counters.value })
        .from(counters)
        .where(
          and(
            eq(counters.workspaceId, workspaceId),
            or(like(counters.name, `${COUNTERS.leadsSourcePrefix}%`), like(counters.name, `${COUNTERS.erased(COUNTERS.leadsSourcePrefix)}%`)),
          ),
        )
        .all()
      return liveBySource(kept)
    },

    async totals(workspaceId) {
      return { leads: liveCount(db, workspaceId, COUNTERS.leads), contacts: liveCount(db, workspaceId, COUNTERS.contacts) }
    },
  }
}
