/** The outbox: events and their deliveries are written in the transaction of the change that caused them. */
import { and, eq } from 'drizzle-orm'
import type { DbOrTx } from '../../db/tx'
import { events, webhookDeliveries, webhookEndpoints } from '../../db/schema'
import { newEventId, newId } from '../../lib/ids'

export const EVENT_TYPES = ['lead.created', 'lead.converted', 'deal.closed', 'campaign.spend_threshold', 'webhook.test'] as const
export type EventType = (typeof EVENT_TYPES)[number]

/** Event types an endpoint can subscribe to; `webhook.test` only ever goes to the endpoint it was sent to. */
export const SUBSCRIBABLE_EVENT_TYPES = EVENT_TYPES.filter((type) => type !== 'webhook.test')

function insertEvent(tx: DbOrTx, now: number, workspaceId: string, type: EventType, data: Record<string, unknown>): string {
  const id = newEventId()
  const payload = JSON.stringify({ id, type, timestamp: new Date(now).toISOString(), data })
  tx.insert(events).values({ id, workspaceId, type, payload, createdAt: now }).run()
  return id
}

function queueDelivery(tx: DbOrTx, now: number, workspaceId: string, endpointId: string, eventId: string): string {
  const id = newId()
  tx.insert(webhookDeliveries).values({ id, workspaceId, endpointId, eventId, nextAttemptAt: now, createdAt: now, updatedAt: now }).run()
  return id
}

/** Records an event and one pending delivery per enabled endpoint subscribed to it; returns the event id and deliveries queued. */
export function emitEvent(tx: DbOrTx, now: number, workspaceId: string, type: EventType, data: Record<string, unknown>): { eventId: string; queued: number } {
  const id = insertEvent(tx, now, workspaceId, type, data)
  const endpoints = tx
    .select({ id: webhookEndpoints.id, events: webhookEndpoints.events })
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.workspaceId, workspaceId), eq(webhookEndpoints.enabled, true)))
    .all()
    .filter((e) => type !== 'webhook.test' && (e.events.length === 0 || e.events.includes(type)))
  for (const endpoint of endpoints) queueDelivery(tx, now, workspaceId, endpoint.id, id)
  return { eventId: id, queued: endpoints.length }
}

/** Records a `webhook.test` event with a single delivery, to the one endpoint it is for. */
export function emitTestEvent(tx: DbOrTx, now: number, workspaceId: string, endpointId: string, data: Record<string, unknown>): { eventId: string; deliveryId: string } {
  const eventId = insertEvent(tx, now, workspaceId, 'webhook.test', data)
  return { eventId, deliveryId: queueDelivery(tx, now, workspaceId, endpointId, eventId) }
}
