/** The webhooks store on SQLite: reads on `db`, writes through the unit of work (one BEGIN IMMEDIATE transaction each). */
import { and, asc, count, desc, eq, gte, inArray, like, or } from 'drizzle-orm'
import { rowInWorkspace } from '../../db/in-workspace'
import { rowidPage } from '../../db/rowid-page'
import { events, webhookAttempts, webhookDeliveries, webhookEndpoints } from '../../db/schema'
import { writeTx, type DbOrTx } from '../../db/tx'
import { write } from '../../db/unit-of-work'
import { notFound } from '../../errors'
import { assertEnabled, assertNoAttemptInFlight, assertRoomForEndpoint, requeue } from './rules'
import type { Attempt, Delivery, DeliveryDetail, Endpoint, WebhooksStore, WebhooksStoreDeps } from './store'

/** The SQLite webhooks store on `deps.db`. */
export function sqliteWebhooksStore(deps: WebhooksStoreDeps): WebhooksStore {
  const { db } = deps
  const unit = { ...deps, wake: deps.wake ?? (() => {}) }
  const endpointIn = (tx: DbOrTx, workspaceId: string, id: string): Endpoint => rowInWorkspace(tx, webhookEndpoints, workspaceId, id, 'webhook endpoint')
  const countIn = (tx: DbOrTx, workspaceId: string): number =>
    tx.select({ n: count() }).from(webhookEndpoints).where(eq(webhookEndpoints.workspaceId, workspaceId)).get()?.n ?? 0

  return {
    async getEndpoint(workspaceId, id) {
      return endpointIn(db, workspaceId, id)
    },

    async countEndpoints(workspaceId) {
      return countIn(db, workspaceId)
    },

    async listEndpoints(workspaceId, req) {
      return rowidPage(db, webhookEndpoints, eq(webhookEndpoints.workspaceId, workspaceId), req)
    },

    insertEndpoint(endpoint, limit, result, note) {
      return write(unit, (tx, emit) => {
        assertRoomForEndpoint(limit, countIn(tx, endpoint.workspaceId))
        tx.insert(webhookEndpoints).values(endpoint).run()
        emit.audit(note.entry, note.now)
        return result(endpoint)
      })
    },

    updateEndpoint(workspaceId, id, change, result, note) {
      return write(unit, (tx, emit) => {
        const changes = change(endpointIn(tx, workspaceId, id))
        const updated = tx.update(webhookEndpoints).set(changes).where(eq(webhookEndpoints.id, id)).returning().get()!
        // Its pending deliveries resume.
        if (changes.enabled) emit.due()
        if (note) emit.audit(note.entry, note.now)
        return result(updated)
      })
    },

    async deleteEndpoint(workspaceId, id, note) {
      await write(unit, (tx, emit) => {
        endpointIn(tx, workspaceId, id)
        tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).run()
        emit.audit(note.entry, note.now)
      })
    },

    queueTestEvent(workspaceId, id, data, now) {
      return write(unit, (tx, emit) => {
        const endpoint = endpointIn(tx, workspaceId, id)
        assertEnabled(endpoint)
        return emit.test(workspaceId, endpoint.id, data, now)
      })
    },

    async listDeliveries(workspaceId, endpointId, status, req) {
      const endpoint = endpointIn(db, workspaceId, endpointId)
      const where = and(eq(webhookDeliveries.endpointId, endpoint.id), status ? eq(webhookDeliveries.status, status) : undefined)!
      const { rows, total, hasMore } = rowidPage(db, webhookDeliveries, where, req)
      const details = deliveryDetails(
        db,
        rows.map((r) => r.row),
      )
      return { rows: rows.map((r) => ({ seq: r.seq, row: details(r.row) })), total, hasMore }
    },

    async eventPayloads(workspaceId, eventIds) {
      if (eventIds.length === 0) return new Map()
      const rows = db
        .select({ id: events.id, payload: events.payload })
        .from(events)
        .where(and(eq(events.workspaceId, workspaceId), inArray(events.id, eventIds)))
        .all()
      return new Map(rows.map((r) => [r.id, r.payload]))
    },

    async deliveriesOfEvents(workspaceId, eventIds) {
      if (eventIds.length === 0) return []
      return db
        .select({ delivery: webhookDeliveries, endpointUrl: webhookEndpoints.url })
        .from(webhookDeliveries)
        .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
        .where(and(eq(webhookDeliveries.workspaceId, workspaceId), inArray(webhookDeliveries.eventId, eventIds)))
        .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
        .all()
    },

    retryDelivery(workspaceId, endpointId, deliveryId, now, result) {
      return write(unit, (tx, emit) => {
        // Checked in the transaction that requeues: a dispatcher cannot lease the delivery in between.
        const endpoint = endpointIn(tx, workspaceId, endpointId)
        assertEnabled(endpoint)
        const delivery = tx
          .select()
          .from(webhookDeliveries)
          .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, endpoint.id)))
          .get()
        if (!delivery) throw notFound('webhook delivery', deliveryId)
        assertNoAttemptInFlight(delivery, now)
        const updated = tx.update(webhookDeliveries).set(requeue(now)).where(eq(webhookDeliveries.id, delivery.id)).returning().get()!
        emit.due()
        return result(deliveryDetails(tx, [updated])(updated))
      })
    },

    recoverDeliveries(workspaceId, endpointId, since, now) {
      return write(unit, (tx, emit) => {
        assertEnabled(endpointIn(tx, workspaceId, endpointId))
        const requeued = tx
          .update(webhookDeliveries)
          .set(requeue(now))
          .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, 'failed'), gte(webhookDeliveries.createdAt, since)))
          .returning({ id: webhookDeliveries.id })
          .all()
        emit.due(requeued.length)
        return requeued.length
      })
    },

    async findSealedEndpoint() {
      return db
        .select()
        .from(webhookEndpoints)
        .where(or(like(webhookEndpoints.secret, 'enc:v1:%'), like(webhookEndpoints.previousSecret, 'enc:v1:%'), like(webhookEndpoints.headers, '%"enc:v1:%')))
        .limit(1)
        .get()
    },

    async resealEndpoints(reseal) {
      return writeTx(db, (tx) =>
        tx
          .select()
          .from(webhookEndpoints)
          .all()
          .map((row) => {
            const secrets = reseal(row)
            tx.update(webhookEndpoints).set(secrets).where(eq(webhookEndpoints.id, row.id)).run()
            return secrets
          }),
      )
    },
  }
}

/** Details for deliveries: their event types and attempts in two queries. */
function deliveryDetails(db: DbOrTx, deliveries: Delivery[]): (d: Delivery) => DeliveryDetail {
  const eventIds = deliveries.map((d) => d.eventId)
  const deliveryIds = deliveries.map((d) => d.id)
  const types = new Map(
    eventIds.length
      ? db
          .select({ id: events.id, type: events.type })
          .from(events)
          .where(inArray(events.id, eventIds))
          .all()
          .map((e) => [e.id, e.type])
      : [],
  )
  const attempts = new Map<string, Attempt[]>()
  if (deliveryIds.length) {
    for (const a of db.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, deliveryIds)).orderBy(asc(webhookAttempts.attempt)).all()) {
      attempts.set(a.deliveryId, [...(attempts.get(a.deliveryId) ?? []), a])
    }
  }
  return (d) => ({ delivery: d, eventType: types.get(d.eventId) ?? 'unknown', attempts: attempts.get(d.id) ?? [] })
}
