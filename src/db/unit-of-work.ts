/**
 * The unit of work: the one way services write. A service hands `write` (or, for ingest,
 * `writeBatched`) its work, `(tx, emit) => result`; the unit of work runs it in one transaction of
 * the storage engine, with the events it emits written to the outbox and the request's
 * Idempotency-Key answer stored in that same transaction, then wakes the webhook dispatcher after
 * the commit when deliveries were queued. Services return plain values.
 */
import { SYSTEM_ACTOR, type Actor } from '../lib/actor'
import { insertAudit, type AuditEntry } from './audit'
import type { Db, Tx } from './client'
import { sqliteEngine, type StorageEngine } from './engine'
import { emitEvent, emitTestEvent, type EventType } from './outbox'
import type { StoreAnswer } from './tx'

/** Records events in the outbox of the running unit of work. */
export interface Emit {
  /**
   * Records an event and a pending delivery per enabled endpoint subscribed to it, at `now`; returns the event id.
   * `contactId`: the contact whose personal data `data` carries (erasing the contact redacts the event).
   */
  (workspaceId: string, type: EventType, data: Record<string, unknown>, now: number, contactId?: string | null): string
  /** Records a `webhook.test` event with one delivery, to the endpoint it is for. */
  test(workspaceId: string, endpointId: string, data: Record<string, unknown>, now: number): { eventId: string; deliveryId: string }
  /** Tells that `count` stored deliveries became due in this transaction (requeued, or their endpoint enabled). */
  due(count?: number): void
  /** Records an action in the audit log, done by the deps' actor (the system when none), at `now`. */
  audit(entry: AuditEntry, now: number): void
}

/** What a unit of work does inside its transaction. */
export type Work<T> = (tx: Tx, emit: Emit) => T

/** What the unit of work needs of a service's deps. */
export interface WriteDeps {
  db: Db
  /** Wakes the webhook dispatcher; called after a commit that queued deliveries. */
  wake: () => void
  /** A request's pending Idempotency-Key answer: stored with the work's result inside its transaction. */
  storeAnswer?: StoreAnswer
  /** The storage engine writes go through (db/engine.ts); another engine plugs in here. */
  engine?: StorageEngine
  /** Who the writes are done for, as the audit log records them; the system when absent. */
  actor?: Actor
}

/** Runs `work` in a write transaction of its own; resolves with its result after the commit. */
export function write<T>(deps: WriteDeps, work: Work<T>): Promise<T> {
  return run(deps, work, engineOf(deps))
}

/** Runs `work` in a write transaction shared with concurrent writes (group commit, for ingest); resolves after the commit. */
export function writeBatched<T>(deps: WriteDeps, work: Work<T>): Promise<T> {
  return run(deps, work, engineOf(deps), true)
}

/** The deps' storage engine; SQLite on `deps.db` when none is given (the embedded default, and tests). */
function engineOf(deps: WriteDeps): StorageEngine {
  return deps.engine ?? sqliteEngine(deps.db)
}

async function run<T>(deps: WriteDeps, work: Work<T>, engine: StorageEngine, batched = false): Promise<T> {
  let queued = 0
  const job = (tx: Tx): T => {
    // The engine may run a job twice (a shared transaction rolled back): only the committed run counts.
    queued = 0
    const emit: Emit = Object.assign(
      (workspaceId: string, type: EventType, data: Record<string, unknown>, now: number, contactId?: string | null) => {
        const event = emitEvent(tx, now, workspaceId, type, data, contactId)
        queued += event.queued
        return event.eventId
      },
      {
        test(workspaceId: string, endpointId: string, data: Record<string, unknown>, now: number) {
          queued++
          return emitTestEvent(tx, now, workspaceId, endpointId, data)
        },
        due(count = 1) {
          queued += count
        },
        audit(entry: AuditEntry, now: number) {
          insertAudit(tx, deps.actor ?? SYSTEM_ACTOR, entry, now)
        },
      },
    )
    const result = work(tx, emit)
    deps.storeAnswer?.(tx, result)
    return result
  }
  const result = await (batched ? engine.writeBatched(job) : engine.write(job))
  if (queued > 0) deps.wake()
  return result
}
