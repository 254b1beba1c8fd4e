/** Leads: each submission kept verbatim, merged into a contact, announced as `lead.created`. */
import { leads } from '../../db/schema'
import { nextSeq, writeTx } from '../../db/tx'
import type { ServiceDeps } from '../../deps'
import { iso } from '../../lib/clock'
import { invalid } from '../../lib/errors'
import { newId } from '../../lib/ids'
import { normaliseEmail, normalisePhone, upsertContactForLead, type LeadPerson } from '../contacts/service'
import { emitEvent } from '../webhooks/outbox'

export type Lead = typeof leads.$inferSelect

/** Serialized lead data larger than this is sent in events without its metadata (events stay small). */
const EVENT_LEAD_MAX_BYTES = 16 * 1024

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export interface LeadInput {
  email?: string | null
  phone?: string | null
  firstName?: string | null
  lastName?: string | null
  source: string
  metadata: Record<string, unknown>
  context?: Record<string, unknown> | null
}

function clean(value: string | null | undefined): string | null {
  const trimmed = value?.trim()
  return trimmed ? trimmed : null
}

/** Validates and normalises the person fields; 422 with the failing path otherwise. */
export function toPerson(input: LeadInput): LeadPerson {
  const rawEmail = clean(input.email)
  if (rawEmail !== null && !EMAIL_PATTERN.test(rawEmail)) throw invalid('/email', `'${rawEmail}' is not an email address`)
  const rawPhone = clean(input.phone)
  const phone = rawPhone === null ? null : normalisePhone(rawPhone)
  if (phone !== null && !/^\+?\d{3,20}$/.test(phone)) throw invalid('/phone', 'must contain 3 to 20 digits')
  const email = rawEmail === null ? null : normaliseEmail(rawEmail)
  if (email === null && phone === null) throw invalid('/email', 'at least one of email or phone is required')
  return { email, phone, firstName: clean(input.firstName), lastName: clean(input.lastName), source: input.source, metadata: input.metadata }
}

/** Stores a lead, merges it into its contact and queues `lead.created`, all in one transaction. */
export function createLead(deps: ServiceDeps, workspaceId: string, channel: Lead['channel'], input: LeadInput): Lead {
  const person = toPerson(input)
  const now = deps.clock.now()
  const { lead, queued } = writeTx(deps.db, (tx) => {
    const contact = upsertContactForLead(tx, now, workspaceId, person)
    const lead: Lead = {
      id: newId(),
      workspaceId,
      contactId: contact.id,
      seq: nextSeq(tx, workspaceId, 'leads'),
      sourceSeq: nextSeq(tx, workspaceId, `leads:source:${person.source}`),
      channel,
      source: person.source,
      email: person.email,
      phone: person.phone,
      firstName: person.firstName,
      lastName: person.lastName,
      metadata: person.metadata,
      context: input.context ?? null,
      status: 'new',
      dealId: null,
      convertedAt: null,
      createdAt: now,
    }
    tx.insert(leads).values(lead).run()
    const { queued } = emitEvent(tx, now, workspaceId, 'lead.created', { lead: eventLead(lead) })
    return { lead, queued }
  })
  if (queued > 0) deps.wake()
  return lead
}

/** The lead as events carry it: without metadata and context when they would make the event large. */
export function eventLead(lead: Lead) {
  const full = serializeLead(lead)
  if (JSON.stringify(full).length <= EVENT_LEAD_MAX_BYTES) return full
  return { ...full, metadata: {}, context: null, metadata_truncated: true }
}

export function serializeLead(l: Lead) {
  return {
    id: l.id,
    object: 'lead' as const,
    contact_id: l.contactId,
    channel: l.channel,
    source: l.source,
    email: l.email,
    phone: l.phone,
    first_name: l.firstName,
    last_name: l.lastName,
    metadata: l.metadata,
    context: l.context,
    status: l.status,
    deal_id: l.dealId,
    converted_at: iso(l.convertedAt),
    created_at: iso(l.createdAt)!,
  }
}
