/** The outbox: events and their deliveries are written in the transaction of the change that caused them. */
import { and, eq, sql } from 'drizzle-orm'
import { prepared, rawStatement } from './prepared'
import type { DbOrTx } from './tx'
import { webhookDeliveries, webhookEndpoints } from './schema'
import { iso } from '../lib/clock'
import { newEventId, newId } from '../lib/ids'

/** Every event type askad emits. */
export const EVENT_TYPES = ['lead.created', 'lead.converted', 'deal.closed', 'campaign.spend_threshold', 'contact.deleted', 'webhook.test'] as const
export type EventType = (typeof EVENT_TYPES)[number]

/** Event types an endpoint can subscribe to; `webhook.test` only ever goes to the endpoint it was sent to. */
export const SUBSCRIBABLE_EVENT_TYPES = EVENT_TYPES.filter((type) => type !== 'webhook.test')

function insertEvent(tx: DbOrTx, now: number, workspaceId: string, type: EventType, data: Record<string, unknown>, contactId: string | null = null): string {
  const id = newEventId()
  const payload = JSON.stringify({ id, type, timestamp: iso(now), data })
  const insert = rawStatement(
    tx,
    'events.insert',
    'INSERT INTO events (id, workspace_id, type, payload, contact_id, created_at) VALUES ($id, $workspaceId, $type, $payload, $contactId, $createdAt)',
  )
  insert.run({ id, workspaceId, type, payload, contactId, createdAt: now })
  return id
}

function queueDelivery(tx: DbOrTx, now: number, workspaceId: string, endpointId: string, eventId: string): string {
  const id = newId()
  const insert = prepared(tx, 'webhookDeliveries.insert', (db) =>
    db
      .insert(webhookDeliveries)
      .values({
        id: sql.placeholder('id'),
        workspaceId: sql.placeholder('workspaceId'),
        endpointId: sql.placeholder('endpointId'),
        eventId: sql.placeholder('eventId'),
        nextAttemptAt: sql.placeholder('now'),
        createdAt: sql.placeholder('now'),
        updatedAt: sql.placeholder('now'),
      })
      .prepare(),
  )
  insert.run({ id, workspaceId, endpointId, eventId, now })
  return id
}

/**
 * Records an event and one pending delivery per enabled endpoint subscribed to it; returns the event id and deliveries queued.
 * `contactId` names the contact whose personal data `data` carries, so erasing the contact redacts the event.
 */
export function emitEvent(
  tx: DbOrTx,
  now: number,
  workspaceId: string,
  type: EventType,
  data: Record<string, unknown>,
  contactId: string | null = null,
): { eventId: string; queued: number } {
  const id = insertEvent(tx, now, workspaceId, type, data, contactId)
  const enabledEndpoints = prepared(tx, 'webhookEndpoints.enabled', (db) =>
    db
      .select({ id: webhookEndpoints.id, events: webhookEndpoints.events })
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.workspaceId, sql.placeholder('workspaceId')), eq(webhookEndpoints.enabled, true)))
      .prepare(),
  )
  const endpoints = enabledEndpoints.all({ workspaceId }).filter((e) => type !== 'webhook.test' && (e.events.length === 0 || e.events.includes(type)))
  for (const endpoint of endpoints) queueDelivery(tx, now, workspaceId, endpoint.id, id)
  return { eventId: id, queued: endpoints.length }
}

/** Records a `webhook.test` event with a single delivery, to the one endpoint it is for. */
export function emitTestEvent(
  tx: DbOrTx,
  now: number,
  workspaceId: string,
  endpointId: string,
  data: Record<string, unknown>,
): { eventId: string; deliveryId: string } {
  const eventId = insertEvent(tx, now, workspaceId, 'webhook.test', data)
  return { eventId, deliveryId: queueDelivery(tx, now, workspaceId, endpointId, eventId) }
}
