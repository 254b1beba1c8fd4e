/**
 * Webhook endpoints and their delivery log in storage: every data operation the service needs, one
 * transaction per write, on SQLite (store.sqlite.ts) or PostgreSQL (store.pg.ts). Checks a write
 * depends on (room for one more endpoint, the endpoint enabled, no attempt in flight) run inside
 * its transaction (rules.ts), so concurrent requests, on one node or several, cannot both pass them.
 */
import type { AuditNote } from '../../db/audit'
import type { ServiceDeps } from '../../deps'
import type { webhookAttempts, webhookDeliveries, webhookEndpoints } from '../../db/schema'
import type { PageRequest } from '../../lib/pagination'
import { pgWebhooksStore } from './store.pg'
import { sqliteWebhooksStore } from './store.sqlite'

export type Endpoint = typeof webhookEndpoints.$inferSelect
export type Delivery = typeof webhookDeliveries.$inferSelect
export type Attempt = typeof webhookAttempts.$inferSelect

/** A delivery as the log shows it: the row, its event's type and its attempts, oldest first. */
export interface DeliveryDetail {
  delivery: Delivery
  eventType: string
  attempts: Attempt[]
}

/** A delivery of an event, with the URL of the endpoint it goes to. */
export interface EventDelivery {
  delivery: Delivery
  endpointUrl: string
}

/** One page of rows, newest first, each with its insertion-order cursor. */
export interface StorePage<T> {
  rows: { seq: number; row: T }[]
  total: number
  hasMore: boolean
}

/** The columns a secret re-sealing rewrites. */
export type EndpointSecrets = Pick<Endpoint, 'secret' | 'previousSecret' | 'headers'>

/**
 * The webhooks store. A write resolves with what its transaction returned, which is also what a
 * request's Idempotency-Key answer is made from: the writes whose service answers more than the
 * row take `result`, which shapes it inside the transaction. A write given an audit `note` records
 * it in the same transaction.
 */
export interface WebhooksStore {
  /** The workspace's endpoint, else a 404 (another workspace's too). */
  getEndpoint(workspaceId: string, id: string): Promise<Endpoint>
  /** How many endpoints the workspace has. */
  countEndpoints(workspaceId: string): Promise<number>
  /** The workspace's endpoints, newest first. */
  listEndpoints(workspaceId: string, req: PageRequest): Promise<StorePage<Endpoint>>
  /**
   * Inserts the endpoint unless the workspace already has `limit`: counted in the insert's
   * transaction, which concurrent creations in the workspace queue on.
   */
  insertEndpoint<R>(endpoint: Endpoint, limit: number, result: (endpoint: Endpoint) => R, note: AuditNote): Promise<R>
  /**
   * Applies `change(current)` to the endpoint, its row locked while the change is computed and
   * stored (404 when it is not the workspace's); its pending deliveries become due when the change
   * enables it.
   */
  updateEndpoint<R>(
    workspaceId: string,
    id: string,
    change: (current: Endpoint) => Partial<Endpoint>,
    result: (updated: Endpoint) => R,
    note?: AuditNote,
  ): Promise<R>
  /** Deletes the endpoint with its deliveries and their attempts (404 when it is not the workspace's). */
  deleteEndpoint(workspaceId: string, id: string, note: AuditNote): Promise<void>
  /** Queues a `webhook.test` event with one delivery to the endpoint, which must be enabled (409). */
  queueTestEvent(workspaceId: string, id: string, data: Record<string, unknown>, now: number): Promise<{ eventId: string; deliveryId: string }>
  /** The endpoint's deliveries (of `status` when given), newest first (404 for an endpoint not the workspace's). */
  listDeliveries(workspaceId: string, endpointId: string, status: Delivery['status'] | undefined, req: PageRequest): Promise<StorePage<DeliveryDetail>>
  /** The bodies sent for the workspace's events among `eventIds` (the stored event JSON), by event id. */
  eventPayloads(workspaceId: string, eventIds: string[]): Promise<Map<string, string>>
  /** The workspace's deliveries of the events `eventIds`, newest first, each with its endpoint's URL. */
  deliveriesOfEvents(workspaceId: string, eventIds: string[]): Promise<EventDelivery[]>
  /** Requeues one delivery now as a manual attempt: the endpoint enabled and no attempt in flight (409), both checked under lock. */
  retryDelivery<R>(workspaceId: string, endpointId: string, deliveryId: string, now: number, result: (requeued: DeliveryDetail) => R): Promise<R>
  /** Requeues every failed delivery of the enabled endpoint created at or after `since`; resolves with how many. */
  recoverDeliveries(workspaceId: string, endpointId: string, since: number, now: number): Promise<number>
  /** An endpoint, of any workspace, holding an encrypted value, if one does. */
  findSealedEndpoint(): Promise<Endpoint | undefined>
  /** Rewrites every endpoint's secrets with `reseal(row)` in one transaction (all or none); resolves with the rows rewritten. */
  resealEndpoints(reseal: (row: Endpoint) => EndpointSecrets): Promise<EndpointSecrets[]>
}

/** What the store is built from: the engine (`pg`, else SQLite on `db`) and, for writes through the unit of work, its deps. */
export type WebhooksStoreDeps = Pick<ServiceDeps, 'db' | 'pg'> & Partial<Pick<ServiceDeps, 'wake' | 'storeAnswer' | 'storePgAnswer' | 'engine' | 'actor'>>

/** The store of the engine the node runs on. */
export function webhooksStore(deps: WebhooksStoreDeps): WebhooksStore {
  return deps.pg ? pgWebhooksStore({ ...deps, pg: deps.pg }) : sqliteWebhooksStore(deps)
}
