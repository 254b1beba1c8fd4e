/**
 * The webhooks store on PostgreSQL. Where SQLite's single writer serialises everything, this makes
 * the locks explicit: endpoint creations in a workspace queue on an advisory lock before counting,
 * a row a write is decided from is read `FOR UPDATE` (`FOR NO KEY UPDATE` when no key changes, so
 * leads being queued for the endpoint, which hold it FOR KEY SHARE, are not held up; `FOR SHARE`
 * when only its state is checked). Lock order, the dispatcher's (workers/recorder.pg.ts): the
 * endpoint, then its deliveries in id order (as retention takes them), so no two paths wait on each
 * other in opposite orders.
 */
import { and, asc, count, desc, eq, getTableColumns, gte, inArray, like, or } from 'drizzle-orm'
import { notFound } from '../../errors'
import type { PgDbOrTx } from '../../db/pg/pages'
import { rowidPagePg } from '../../db/pg/pages'
import { events, webhookAttempts, webhookDeliveries, webhookEndpoints } from '../../db/pg/schema'
import { lockKeys, writePg, type PgTx } from '../../db/pg/unit-of-work'
import type { PgDb } from '../../db/pg/client'
import { assertEnabled, assertNoAttemptInFlight, assertRoomForEndpoint, requeue } from './rules'
import type { Attempt, Delivery, DeliveryDetail, Endpoint, WebhooksStore, WebhooksStoreDeps } from './store'

const { rowid: _endpointRowid, ...endpointColumns } = getTableColumns(webhookEndpoints)
const { rowid: _deliveryRowid, ...deliveryColumns } = getTableColumns(webhookDeliveries)

/** A row without PostgreSQL's explicit insertion-order column, shaped as on SQLite. */
function withoutRowid<T extends { rowid: number }>({ rowid: _, ...row }: T): Omit<T, 'rowid'> {
  return row
}

/**
 * PostgreSQL cannot store U+0000 in text (SQLite can): an id holding it names no row, and a query
 * with it would fail. Such an id gets the same 404 as on SQLite.
 */
function assertStorableId(id: string, what: string): void {
  if (id.includes('\0')) throw notFound(what, id)
}

type Lock = 'update' | 'no key update' | 'share'

/** The workspace's endpoint, locked when `lock` is given, else a 404. */
async function endpointIn(db: PgDbOrTx, workspaceId: string, id: string, lock?: Lock): Promise<Endpoint> {
  assertStorableId(id, 'webhook endpoint')
  const query = db
    .select(endpointColumns)
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.workspaceId, workspaceId), eq(webhookEndpoints.id, id)))
  const [row] = lock ? await query.for(lock) : await query
  if (!row) throw notFound('webhook endpoint', id)
  return row
}

async function countIn(db: PgDbOrTx, workspaceId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(webhookEndpoints).where(eq(webhookEndpoints.workspaceId, workspaceId))
  return row?.n ?? 0
}

/** The PostgreSQL webhooks store on `deps.pg`. */
export function pgWebhooksStore(deps: WebhooksStoreDeps & { pg: PgDb }): WebhooksStore {
  const { pg } = deps
  const unit = { pg, wake: deps.wake ?? (() => {}), storePgAnswer: deps.storePgAnswer, actor: deps.actor }

  return {
    getEndpoint(workspaceId, id) {
      return endpointIn(pg, workspaceId, id)
    },

    countEndpoints(workspaceId) {
      return countIn(pg, workspaceId)
    },

    async listEndpoints(workspaceId, req) {
      const page = await rowidPagePg(pg, webhookEndpoints, eq(webhookEndpoints.workspaceId, workspaceId), req)
      return { ...page, rows: page.rows.map((r) => ({ seq: r.seq, row: withoutRowid(r.row) })) }
    },

    insertEndpoint(endpoint, limit, result, note) {
      return writePg(unit, async (tx, emit) => {
        // Concurrent creations in the workspace queue here, so each counts the ones committed before it.
        await lockKeys(tx, [`webhook_endpoints:${endpoint.workspaceId}`])
        assertRoomForEndpoint(limit, await countIn(tx, endpoint.workspaceId))
        await tx.insert(webhookEndpoints).values(endpoint)
        await emit.audit(note.entry, note.now)
        return result(endpoint)
      })
    },

    updateEndpoint(workspaceId, id, change, result, note) {
      return writePg(unit, async (tx, emit) => {
        const changes = change(await endpointIn(tx, workspaceId, id, 'no key update'))
        const [updated] = await tx.update(webhookEndpoints).set(changes).where(eq(webhookEndpoints.id, id)).returning(endpointColumns)
        // Its pending deliveries resume.
        if (changes.enabled) emit.due()
        if (note) await emit.audit(note.entry, note.now)
        return result(updated!)
      })
    },

    async deleteEndpoint(workspaceId, id, note) {
      await writePg(unit, async (tx, emit) => {
        assertStorableId(id, 'webhook endpoint')
        // The dispatcher's lock order (workers/recorder.pg.ts): the endpoint, then the deliveries the delete cascades to.
        await endpointIn(tx, workspaceId, id, 'update')
        await tx
          .select({ id: webhookDeliveries.id })
          .from(webhookDeliveries)
          .where(and(eq(webhookDeliveries.workspaceId, workspaceId), eq(webhookDeliveries.endpointId, id)))
          .orderBy(asc(webhookDeliveries.id))
          .for('update')
        const deleted = await tx
          .delete(webhookEndpoints)
          .where(and(eq(webhookEndpoints.workspaceId, workspaceId), eq(webhookEndpoints.id, id)))
          .returning({ id: webhookEndpoints.id })
        if (deleted.length === 0) throw notFound('webhook endpoint', id)
        await emit.audit(note.entry, note.now)
      })
    },

    queueTestEvent(workspaceId, id, data, now) {
      return writePg(unit, async (tx, emit) => {
        // Shared: a concurrent disable or delete waits until the test delivery is queued, or goes first and is seen.
        const endpoint = await endpointIn(tx, workspaceId, id, 'share')
        assertEnabled(endpoint)
        return emit.test(workspaceId, endpoint.id, data, now)
      })
    },

    async listDeliveries(workspaceId, endpointId, status, req) {
      const endpoint = await endpointIn(pg, workspaceId, endpointId)
      const where = and(eq(webhookDeliveries.endpointId, endpoint.id), status ? eq(webhookDeliveries.status, status) : undefined)!
      const { rows, total, hasMore } = await rowidPagePg(pg, webhookDeliveries, where, req)
      const details = await deliveryDetails(
        pg,
        rows.map((r) => withoutRowid(r.row)),
      )
      return { rows: rows.map((r) => ({ seq: r.seq, row: details(withoutRowid(r.row)) })), total, hasMore }
    },

    async eventPayloads(workspaceId, eventIds) {
      const ids = eventIds.filter((id) => !id.includes('\0'))
      if (ids.length === 0) return new Map()
      const rows = await pg
        .select({ id: events.id, payload: events.payload })
        .from(events)
        .where(and(eq(events.workspaceId, workspaceId), inArray(events.id, ids)))
      return new Map(rows.map((r) => [r.id, r.payload]))
    },

    async deliveriesOfEvents(workspaceId, eventIds) {
      const ids = eventIds.filter((id) => !id.includes('\0'))
      if (ids.length === 0) return []
      return pg
        .select({ delivery: deliveryColumns, endpointUrl: webhookEndpoints.url })
        .from(webhookDeliveries)
        .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
        .where(and(eq(webhookDeliveries.workspaceId, workspaceId), inArray(webhookDeliveries.eventId, ids)))
        .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    },

    retryDelivery(workspaceId, endpointId, deliveryId, now, result) {
      return writePg(unit, async (tx, emit) => {
        assertStorableId(endpointId, 'webhook endpoint')
        assertStorableId(deliveryId, 'webhook delivery')
        // The dispatcher's lock order (workers/recorder.pg.ts): the endpoint, then its delivery, which no
        // dispatcher can lease in between. Refusals in SQLite's order: the endpoint's 404 and 409 first.
        assertEnabled(await endpointIn(tx, workspaceId, endpointId, 'share'))
        const [delivery] = await tx
          .select(deliveryColumns)
          .from(webhookDeliveries)
          .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, endpointId)))
          .for('update')
        if (!delivery) throw notFound('webhook delivery', deliveryId)
        assertNoAttemptInFlight(delivery, now)
        const [updated] = await tx.update(webhookDeliveries).set(requeue(now)).where(eq(webhookDeliveries.id, delivery.id)).returning(deliveryColumns)
        emit.due()
        return result((await deliveryDetails(tx, [updated!]))(updated!))
      })
    },

    recoverDeliveries(workspaceId, endpointId, since, now) {
      return writePg(unit, async (tx, emit) => {
        assertStorableId(endpointId, 'webhook endpoint')
        // The dispatcher's lock order (workers/recorder.pg.ts): the endpoint, then its deliveries.
        assertEnabled(await endpointIn(tx, workspaceId, endpointId, 'share'))
        const failedSince = and(
          eq(webhookDeliveries.workspaceId, workspaceId),
          eq(webhookDeliveries.endpointId, endpointId),
          eq(webhookDeliveries.status, 'failed'),
          gte(webhookDeliveries.createdAt, since),
        )
        // Locked in id order first (an UPDATE locks in scan order), as retention and the recorder take them.
        await tx.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(failedSince).orderBy(asc(webhookDeliveries.id)).for('update')
        const requeued = await tx.update(webhookDeliveries).set(requeue(now)).where(failedSince).returning({ id: webhookDeliveries.id })
        emit.due(requeued.length)
        return requeued.length
      })
    },

    async findSealedEndpoint() {
      const [row] = await pg
        .select(endpointColumns)
        .from(webhookEndpoints)
        .where(or(like(webhookEndpoints.secret, 'enc:v1:%'), like(webhookEndpoints.previousSecret, 'enc:v1:%'), like(webhookEndpoints.headers, '%"enc:v1:%')))
        .limit(1)
      return row
    },

    resealEndpoints(reseal) {
      return writePg(unit, async (tx) => {
        const rows = await tx.select(endpointColumns).from(webhookEndpoints).orderBy(asc(webhookEndpoints.id)).for('no key update')
        const resealed = []
        for (const row of rows) {
          const secrets = reseal(row)
          await tx.update(webhookEndpoints).set(secrets).where(eq(webhookEndpoints.id, row.id))
          resealed.push(secrets)
        }
        return resealed
      })
    },
  }
}

/** Details for deliveries: their event types and attempts in two queries. */
async function deliveryDetails(db: PgDbOrTx | PgTx, deliveries: Delivery[]): Promise<(d: Delivery) => DeliveryDetail> {
  const eventIds = deliveries.map((d) => d.eventId)
  const deliveryIds = deliveries.map((d) => d.id)
  const types = new Map(
    eventIds.length ? (await db.select({ id: events.id, type: events.type }).from(events).where(inArray(events.id, eventIds))).map((e) => [e.id, e.type]) : [],
  )
  const attempts = new Map<string, Attempt[]>()
  if (deliveryIds.length) {
    for (const a of await db.select().from(webhookAttempts).where(inArray(webhookAttempts.deliveryId, deliveryIds)).orderBy(asc(webhookAttempts.attempt))) {
      attempts.set(a.deliveryId, [...(attempts.get(a.deliveryId) ?? []), a])
    }
  }
  return (d) => ({ delivery: d, eventType: types.get(d.eventId) ?? 'unknown', attempts: attempts.get(d.id) ?? [] })
}
