/** Where leads live: every data operation the leads service needs, on SQLite or on PostgreSQL. */
import type { AuditEntry } from '../../db/audit'
import { newId } from '../../lib/ids'
import { COUNTERS } from '../../db/tx'
import type { ServiceDeps } from '../../deps'
import type { PageRequest } from '../../lib/pagination'
import type { LeadPerson } from '../contacts/service'
import type { Deal } from '../deals/service'
import type { NewDeal } from '../deals/store'
import type { Lead } from './service'
import { pgLeadsStore } from './store.pg'
import { sqliteLeadsStore } from './store.sqlite'

/** A new lead as the service hands it over: checked and normalised, before it has a contact or sequence numbers. */
export interface NewLead {
  channel: Lead['channel']
  person: LeadPerson
  context: Record<string, unknown> | null
}

/** How one imported row was stored. */
export interface ImportedLead {
  leadId: string
  contactId: string
  /** The row made a new contact (else it was merged into a known one). */
  contactCreated: boolean
}

/** What an import chunk does besides storing its leads. */
export interface ImportChunkOptions {
  /** Emit `lead.created` for each lead (imports default to not). */
  emitEvents: boolean
  /** An audit entry to record in the chunk's transaction (the import's last chunk records the import). */
  audit?: AuditEntry
}

/** List filters, already checked. */
export interface LeadListQuery {
  source?: string
  status?: Lead['status']
  contactId?: string
  createdSince?: number
}

export interface LeadsStore {
  /** One lead of the workspace; 404 for any other id. */
  get(workspaceId: string, id: string): Promise<Lead>
  /** One page of leads, newest first. */
  list(workspaceId: string, query: LeadListQuery, req: PageRequest): Promise<{ rows: Lead[]; total: number; hasMore: boolean }>
  /**
   * Stores a lead, merges it into its contact (found by email, else phone, or created) and emits
   * `lead.created`, in one transaction; resolves after the commit with the lead (what an
   * Idempotency-Key answer is made from) and the metadata keys the contact's merge dropped.
   */
  create(workspaceId: string, now: number, lead: NewLead): Promise<{ lead: Lead; droppedMetadataKeys: string[] }>
  /**
   * Stores a chunk of a CSV import in ONE transaction: each lead exactly as `create` stores one (the
   * same contact matching and merge, so import rules cannot drift from ingest), in order, so rows of
   * one file dedupe against each other. Resolves after the commit with `conclude(imported)`: the
   * work's result, which an Idempotency-Key answer is made from.
   */
  importChunk<R>(workspaceId: string, now: number, leads: NewLead[], options: ImportChunkOptions, conclude: (imported: ImportedLead[]) => R): Promise<R>
  /**
   * Converts a lead into a deal (`dealFor` builds it from the lead, and may refuse with a 422) and
   * emits `lead.converted`, in one transaction holding the lead; an already converted lead changes
   * nothing and comes back with its deal (`created: false`).
   */
  convert(workspaceId: string, id: string, now: number, dealFor: (lead: Lead) => NewDeal): Promise<{ lead: Lead; deal: Deal; created: boolean }>
  /** Lead counts per UTC day from `since` (a day's start), by day index (0 = `since`'s day). */
  countsPerDay(workspaceId: string, since: number, dayMs: number): Promise<Map<number, number>>
  /** Leads per source, largest first, from the kept per-source counters. */
  countsBySource(workspaceId: string): Promise<{ source: string; count: number }[]>
  /** The kept totals: every lead and every contact of the workspace. */
  totals(workspaceId: string): Promise<{ leads: number; contacts: number }>
}

/** The leads store of the node's engine: PostgreSQL when `deps.pg` is set, else SQLite. */
export function leadsStore(deps: ServiceDeps): LeadsStore {
  return deps.pg ? pgLeadsStore({ ...deps, pg: deps.pg }) : sqliteLeadsStore(deps)
}

/** A new lead's row, as both engines insert it: the submission as given, placed on its contact and in the sequences. */
export function newLeadRow(
  workspaceId: string,
  now: number,
  { channel, person, context }: NewLead,
  placed: Pick<Lead, 'contactId' | 'seq' | 'sourceSeq'>,
): Lead {
  return {
    id: newId(),
    workspaceId,
    ...placed,
    channel,
    source: person.source,
    email: person.email,
    phone: person.phone,
    firstName: person.firstName,
    lastName: person.lastName,
    metadata: person.metadata,
    context,
    status: 'new',
    dealId: null,
    convertedAt: null,
    createdAt: now,
  }
}

/**
 * Leads per source, largest first, from the kept per-source counters and their erased counts
 * (`leads:source:<s>` and `erased:leads:source:<s>` rows); a source whose leads were all erased is left out.
 */
export function liveBySource(kept: { name: string; value: number }[]): { source: string; count: number }[] {
  const erasedPrefix = COUNTERS.erased(COUNTERS.leadsSourcePrefix)
  const counts = new Map<string, number>()
  for (const { name, value } of kept) {
    const erased = name.startsWith(erasedPrefix)
    const source = name.slice((erased ? erasedPrefix : COUNTERS.leadsSourcePrefix).length)
    counts.set(source, (counts.get(source) ?? 0) + (erased ? -value : value))
  }
  return [...counts]
    .filter(([, count]) => count > 0)
    .map(([source, count]) => ({ source, count }))
    .sort((a, b) => b.count - a.count)
}
