/** The outbox: events and their deliveries are written in the transaction of the change that caused them. */
import { and, eq } from 'drizzle-orm'
import type { DbOrTx } from '../../db/tx'
import { events, webhookDeliveries, webhookEndpoints } from '../../db/schema'
import { newEventId, newId } from '../../lib/ids'

export const EVENT_TYPES = ['lead.created', 'lead.converted', 'deal.closed', 'campaign.spend_threshold', 'webhook.test'] as const
export type EventType = (typeof EVENT_TYPES)[number]

/** Records an event and one pending delivery per enabled endpoint subscribed to it; returns the event id and deliveries queued. */
export function emitEvent(tx: DbOrTx, now: number, workspaceId: string, type: EventType, data: Record<string, unknown>): { eventId: string; queued: number } {
  const id = newEventId()
  const payload = JSON.stringify({ id, type, timestamp: new Date(now).toISOString(), data })
  tx.insert(events).values({ id, workspaceId, type, payload, createdAt: now }).run()
  const endpoints = tx
    .select({ id: webhookEndpoints.id, events: webhookEndpoints.events })
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.workspaceId, workspaceId), eq(webhookEndpoints.enabled, true)))
    .all()
    .filter((e) => type !== 'webhook.test' && (e.events.length === 0 || e.events.includes(type)))
  for (const endpoint of endpoints) {
    tx.insert(webhookDeliveries)
      .values({ id: newId(), workspaceId, endpointId: endpoint.id, eventId: id, nextAttemptAt: now, createdAt: now, updatedAt: now })
      .run()
  }
  return { eventId: id, queued: endpoints.length }
}
