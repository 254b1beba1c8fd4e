/**
 * The unit of work on PostgreSQL: the same contract as SQLite's (../unit-of-work.ts) with an
 * asynchronous work function. `writePg(deps, async (tx, emit) => …)` runs the work in one READ
 * COMMITTED transaction; the events it emits go to the outbox in that transaction, the request's
 * Idempotency-Key answer is stored in it, and the dispatcher is woken after the commit when
 * deliveries were queued (its wake-up notifies the other nodes, coalesced: see workers/).
 *
 * Concurrency is explicit here, where SQLite's single writer hid it: work that reads a row and
 * writes from what it read takes the row `FOR UPDATE` (or an advisory lock for something that may
 * not exist yet); several counters are taken in one statement in sorted order (nextSeqs), so two
 * transactions never wait on each other's counters in opposite orders.
 */
import type { SQL } from 'bun'
import { drizzle, type BunSQLDatabase } from 'drizzle-orm/bun-sql'
import { SYSTEM_ACTOR, type Actor } from '../../lib/actor'
import { iso } from '../../lib/clock'
import { auditRow, type AuditEntry } from '../audit'
import { newEventId, newId } from '../../lib/ids'
import type { EventType } from '../outbox'
import type { PgDb } from './client'
import * as schema from './schema'

/** A transaction: drizzle's query builder on it (`tx`) and the raw client (`tx.$client`) for hand-written SQL. */
export type PgTx = BunSQLDatabase<typeof schema> & { $client: SQL }

/** Records events in the outbox of the running unit of work (the asynchronous twin of SQLite's Emit). */
export interface PgEmit {
  /**
   * Records an event and a pending delivery per enabled endpoint subscribed to it, at `now`; resolves with the event id.
   * `contactId`: the contact whose personal data `data` carries (erasing the contact redacts the event).
   */
  (workspaceId: string, type: EventType, data: Record<string, unknown>, now: number, contactId?: string | null): Promise<string>
  /** Records a `webhook.test` event with one delivery, to the endpoint it is for. */
  test(workspaceId: string, endpointId: string, data: Record<string, unknown>, now: number): Promise<{ eventId: string; deliveryId: string }>
  /** Tells that `count` stored deliveries became due in this transaction (requeued, or their endpoint enabled). */
  due(count?: number): void
  /** Records an action in the audit log, done by the deps' actor (the system when none), at `now`. */
  audit(entry: AuditEntry, now: number): Promise<void>
}

/** What the PostgreSQL unit of work does inside its transaction. */
export type PgWork<T> = (tx: PgTx, emit: PgEmit) => Promise<T>

/** Writes what must commit with a request's change (its Idempotency-Key's answer), given the service's result. */
export type PgStoreAnswer = (tx: PgTx, result: unknown) => Promise<void>

/** What the PostgreSQL unit of work needs of a service's deps. */
export interface PgWriteDeps {
  pg: PgDb
  /** Wakes the webhook dispatcher; called after a commit that queued deliveries. */
  wake: () => void
  /** A request's pending Idempotency-Key answer: stored with the work's result inside its transaction. */
  storePgAnswer?: PgStoreAnswer
  /** Who the writes are done for, as the audit log records them; the system when absent. */
  actor?: Actor
}

/** Runs `work` in a transaction; resolves with its result after the commit, rejects (rolled back) with what it threw. */
export async function writePg<T>(deps: PgWriteDeps, work: PgWork<T>): Promise<T> {
  let queued = 0
  const result = await deps.pg.$client.begin(async (client) => {
    const tx = drizzle({ client, schema }) as PgTx
    const emit: PgEmit = Object.assign(
      async (workspaceId: string, type: EventType, data: Record<string, unknown>, now: number, contactId?: string | null) => {
        const event = await emitEventPg(tx, now, workspaceId, type, data, contactId)
        queued += event.queued
        return event.eventId
      },
      {
        async test(workspaceId: string, endpointId: string, data: Record<string, unknown>, now: number) {
          queued++
          const eventId = await insertEvent(tx, now, workspaceId, 'webhook.test', data)
          const [deliveryId] = await queueDeliveries(tx, now, workspaceId, [endpointId], eventId)
          return { eventId, deliveryId: deliveryId! }
        },
        due(count = 1) {
          queued += count
        },
        async audit(entry: AuditEntry, now: number) {
          await insertAuditPg(tx, deps.actor ?? SYSTEM_ACTOR, entry, now)
        },
      },
    )
    const value = await work(tx, emit)
    await deps.storePgAnswer?.(tx, value)
    return value
  })
  if (queued > 0) deps.wake()
  return result as T
}

async function insertEvent(
  tx: PgTx,
  now: number,
  workspaceId: string,
  type: EventType,
  data: Record<string, unknown>,
  contactId: string | null = null,
): Promise<string> {
  const id = newEventId()
  const payload = JSON.stringify({ id, type, timestamp: iso(now), data })
  await tx.$client`INSERT INTO events (id, workspace_id, type, payload, contact_id, created_at) VALUES (${id}, ${workspaceId}, ${type}, ${payload}, ${contactId}, ${now})`
  return id
}

/** One pending delivery of `eventId` per endpoint, in one statement; resolves with their ids in order. */
async function queueDeliveries(tx: PgTx, now: number, workspaceId: string, endpointIds: string[], eventId: string): Promise<string[]> {
  if (endpointIds.length === 0) return []
  const rows = endpointIds.map((endpointId) => ({
    id: newId(),
    workspace_id: workspaceId,
    endpoint_id: endpointId,
    event_id: eventId,
    next_attempt_at: now,
    created_at: now,
    updated_at: now,
  }))
  await tx.$client`INSERT INTO webhook_deliveries ${tx.$client(rows)}`
  return rows.map((r) => r.id)
}

/**
 * Records an event and one pending delivery per enabled endpoint subscribed to it. The endpoints are
 * held FOR KEY SHARE until the commit, so one deleted meanwhile cannot fail the delivery's foreign key.
 */
export async function emitEventPg(
  tx: PgTx,
  now: number,
  workspaceId: string,
  type: EventType,
  data: Record<string, unknown>,
  contactId: string | null = null,
): Promise<{ eventId: string; queued: number }> {
  const eventId = await insertEvent(tx, now, workspaceId, type, data, contactId)
  const endpoints: { id: string; events: string }[] = await tx.$client`
    SELECT id, events FROM webhook_endpoints WHERE workspace_id = ${workspaceId} AND enabled FOR KEY SHARE`
  const subscribed = endpoints.filter((e) => {
    const events = JSON.parse(e.events) as string[]
    return type !== 'webhook.test' && (events.length === 0 || events.includes(type))
  })
  await queueDeliveries(
    tx,
    now,
    workspaceId,
    subscribed.map((e) => e.id),
    eventId,
  )
  return { eventId, queued: subscribed.length }
}

/**
 * Increments several per-workspace counters at once and resolves with their new values by name.
 * One statement, rows in sorted name order: concurrent transactions lock the counters they share
 * in the same order, so they queue instead of deadlocking. A transaction takes its counters once,
 * as late as it can: the row locks are held until its commit.
 */
export async function nextSeqs(tx: PgTx, workspaceId: string, names: string[]): Promise<Record<string, number>> {
  const sorted = [...new Set(names)].sort()
  const rows: { name: string; value: string | number }[] = await tx.$client`
    INSERT INTO counters (workspace_id, name, value)
    SELECT ${workspaceId}, name, 1 FROM unnest(${sorted}::text[]) WITH ORDINALITY AS n(name, ord) ORDER BY ord
    ON CONFLICT (workspace_id, name) DO UPDATE SET value = counters.value + 1
    RETURNING name, value`
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.value)]))
}

/** Current value of a per-workspace counter (0 when never used). */
export async function readCounterPg(db: PgDb | PgTx, workspaceId: string, name: string): Promise<number> {
  const [row] = await db.$client`SELECT value FROM counters WHERE workspace_id = ${workspaceId} AND name = ${name}`
  return row ? Number(row.value) : 0
}

/**
 * Takes transaction-level advisory locks on `keys` (e.g. `contact:<workspace>:<email>`), in sorted
 * order, for rows that may not exist yet: two transactions creating "the same" row queue here.
 */
export async function lockKeys(tx: PgTx, keys: string[]): Promise<void> {
  const sorted = [...new Set(keys)].sort()
  if (sorted.length === 0) return
  await tx.$client`SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(${sorted}::text[]) WITH ORDINALITY AS t(k, ord) ORDER BY ord`
}

/** Records `entry` as done by `actor` inside `tx` (the PostgreSQL twin of insertAudit). */
export async function insertAuditPg(tx: PgTx, actor: Actor, entry: AuditEntry, now: number): Promise<void> {
  await tx.$client`INSERT INTO audit_log ${tx.$client(auditRow(actor, entry, now))}`
}
