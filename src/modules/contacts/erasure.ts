/**
 * Erasure of a contact (GDPR Art. 17): what both engines' stores share. The contact, its leads and
 * their stored payloads are deleted; deals are business data and stay, unlinked; the events that
 * carried the person's data are redacted to ids, so pending deliveries send the redacted payload.
 */
import type { AuditEntry } from '../../db/audit'
import { COUNTERS } from '../../db/tx'
import { iso } from '../../lib/clock'

/** The title a kept deal gets when its title was the erased person's name, email or phone (a converted lead's default). */
export const ERASED_DEAL_TITLE = 'Erased contact'

/** Lead ids a `contact.deleted` event lists at most, so the event stays small (SPEC §7: under 20 KB). */
export const DELETED_EVENT_MAX_LEAD_IDS = 200

/** The person fields of a contact or lead that a deal title may have been made from. */
export interface PersonFields {
  firstName: string | null
  lastName: string | null
  email: string | null
  phone: string | null
}

/** What an erasure did: the answer of `DELETE /contacts/:id` and the source of `contact.deleted`. */
export interface ErasureReceipt {
  contactId: string
  /** The erased leads' ids, newest first. */
  leadIds: string[]
  dealsUnlinked: number
  eventsRedacted: number
  deletedAt: number
}

/**
 * Every text a conversion may have made a deal title from (defaultDealTitle in leads/service.ts:
 * the full name, else the email, else the phone), for the contact and each of its leads.
 */
export function personalTexts(people: PersonFields[]): Set<string> {
  const texts = new Set<string>()
  for (const p of people) {
    const name = [p.firstName, p.lastName].filter(Boolean).join(' ')
    for (const text of [name, p.email, p.phone]) if (text) texts.add(text)
  }
  return texts
}

/** A kept deal's title after the erasure: a title that was the person's name, email or phone is replaced. */
export function erasedTitle(title: string, personal: Set<string>): string {
  return personal.has(title) ? ERASED_DEAL_TITLE : title
}

/**
 * An event payload (`{id, type, timestamp, data}`) without the erased person: `data.lead` keeps only
 * its id (and says it was erased); `data.deal` stays, unlinked, its title replaced when it was the
 * person's. The event id, type and time stay, so a receiver that saw the original dedupes on them.
 */
export function redactedPayload(payload: string, personal: Set<string>): string {
  const event = JSON.parse(payload) as { data?: Record<string, unknown> }
  const data = event.data ?? {}
  const lead = data.lead as { id?: unknown } | undefined
  if (lead) data.lead = { id: lead.id, object: 'lead', erased: true }
  const deal = data.deal as { title?: unknown } | undefined
  if (deal) {
    const title = typeof deal.title === 'string' ? erasedTitle(deal.title, personal) : deal.title
    data.deal = { ...deal, title, contact_id: null, lead_id: null }
  }
  return JSON.stringify({ ...event, data })
}

/** The `data` of `contact.deleted`: ids and counts only, never the erased personal data. */
export function contactDeletedData(receipt: ErasureReceipt) {
  return {
    contact: { id: receipt.contactId, object: 'contact', deleted: true },
    deleted_at: iso(receipt.deletedAt),
    lead_count: receipt.leadIds.length,
    lead_ids: receipt.leadIds.slice(0, DELETED_EVENT_MAX_LEAD_IDS),
    lead_ids_truncated: receipt.leadIds.length > DELETED_EVENT_MAX_LEAD_IDS,
  }
}

/** The audit log's record of an erasure: ids and counts only, like the event. */
export function erasureAudit(workspaceId: string, r: ErasureReceipt): AuditEntry {
  return {
    workspaceId,
    action: 'contact.erased',
    target: { type: 'contact', id: r.contactId },
    details: { leads_deleted: r.leadIds.length, deals_unlinked: r.dealsUnlinked, events_redacted: r.eventsRedacted },
  }
}

/** The LIKE pattern that finds a stored Idempotency-Key answer mentioning an id (a conversion's answer carries its lead in full). */
export function answerMentioning(id: string): string {
  // Ids are UUIDs: no LIKE wildcards to escape.
  return `%"${id}"%`
}

/**
 * The sequence numbers an erasure frees, by counter: the contact's (overall and per first source)
 * and each lead's (overall and per source). They go to `erased_seqs`, each adding one to `erased:<counter>`.
 */
export function freedSeqs(
  contact: { seq: number; sourceSeq: number; firstSource: string },
  leads: { seq: number; sourceSeq: number; source: string }[],
): { counter: string; seq: number }[] {
  return [
    { counter: COUNTERS.contacts, seq: contact.seq },
    { counter: COUNTERS.contactsFromSource(contact.firstSource), seq: contact.sourceSeq },
    ...leads.flatMap((l) => [
      { counter: COUNTERS.leads, seq: l.seq },
      { counter: COUNTERS.leadsFromSource(l.source), seq: l.sourceSeq },
    ]),
  ]
}
