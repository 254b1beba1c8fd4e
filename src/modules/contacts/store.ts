/** Where contacts live: every data operation the contacts service needs, on SQLite or on PostgreSQL. */
import type { ServiceDeps } from '../../deps'
import { ApiError } from '../../errors'
import { mergeLeadMetadata } from '../../lib/metadata'
import type { PageRequest } from '../../lib/pagination'
import type { Deal } from '../deals/service'
import type { Lead } from '../leads/service'
import type { ErasureReceipt } from './erasure'
import type { SearchTerms } from './search'
import type { Contact, LeadPerson } from './service'
import { pgContactsStore } from './store.pg'
import { sqliteContactsStore } from './store.sqlite'

/** The fields a contact edit sets. */
export type ContactChanges = Pick<Contact, 'firstName' | 'lastName' | 'email' | 'phone' | 'metadata' | 'updatedAt'>

/** List filters, already checked and normalised. */
export interface ContactListQuery {
  email?: string
  source?: string
  updatedSince?: number
  /** A search (`?q=`), already parsed. */
  search?: SearchTerms
}

/** The email and phone a contact edit sets (undefined: unchanged), known before its transaction. */
export interface ContactKeys {
  email?: string | null
  phone?: string | null
}

export interface ContactsStore {
  /** One contact of the workspace; 404 for any other id. */
  get(workspaceId: string, id: string): Promise<Contact>
  /** A contact with its `recent` newest leads and deals; 404 for any other id. */
  detail(workspaceId: string, id: string, recent: number): Promise<{ contact: Contact; leads: Lead[]; deals: Deal[] }>
  /** One page of contacts, newest first. */
  list(workspaceId: string, query: ContactListQuery, req: PageRequest): Promise<{ rows: Contact[]; total: number; hasMore: boolean }>
  /**
   * Edits a contact in one transaction: `change` computes the new fields from the current row (and
   * may refuse with a 422); an email another contact of the workspace has is a 409 (emailTaken).
   */
  update(workspaceId: string, id: string, keys: ContactKeys, change: (current: Contact) => ContactChanges): Promise<Contact>
  /**
   * Erases a contact in one transaction (see erasure.ts): deletes it and its leads, unlinks its deals,
   * redacts the events that carried its data, records the erased sequence numbers (so counts and
   * pages stay exact) and emits `contact.deleted`. 404 for any other id, and for an erased one.
   */
  erase(workspaceId: string, id: string, now: number): Promise<ErasureReceipt>
}

/** The contacts store of the node's engine: PostgreSQL when `deps.pg` is set, else SQLite. */
export function contactsStore(deps: ServiceDeps): ContactsStore {
  return deps.pg ? pgContactsStore({ ...deps, pg: deps.pg }) : sqliteContactsStore(deps)
}

/** The 409 for an email another contact of the workspace already has: the same answer on both engines. */
export function emailTaken(email: string): ApiError {
  return new ApiError('conflict', `Another contact in this workspace already has the email '${email}'.`, [
    { path: '/email', message: 'belongs to another contact' },
  ])
}

/**
 * A known contact merged with a lead's person: empty fields filled, metadata merged (newer wins per
 * key, least recently written keys dropped beyond 64 KB), last_source set; first_source stays.
 * lead_count is bumped by the statement itself. Returns the metadata keys dropped.
 */
export function mergedWithLead(existing: Contact, person: LeadPerson) {
  const { metadata, dropped } = mergeLeadMetadata(existing.metadata, person.metadata)
  return {
    email: existing.email ?? person.email,
    phone: existing.phone ?? person.phone,
    firstName: existing.firstName ?? person.firstName,
    lastName: existing.lastName ?? person.lastName,
    metadata,
    lastSource: person.source,
    dropped,
  }
}
