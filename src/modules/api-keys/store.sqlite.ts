/** API keys on SQLite: the synchronous drizzle queries, writes through the unit of work. */
import { and, desc, eq, sql } from 'drizzle-orm'
import type { ApiKey } from '../../db/api-key'
import { withoutBusyWait, type Db } from '../../db/client'
import { rowInWorkspace } from '../../db/in-workspace'
import { prepared } from '../../db/prepared'
import { rowidPage } from '../../db/rowid-page'
import { apiKeys } from '../../db/schema'
import { storageProblem } from '../../db/storage'
import type { DbOrTx } from '../../db/tx'
import { write } from '../../db/unit-of-work'
import { ApiError, notFound } from '../../errors'
import { keyCreated, keyRevoked } from './audit'
import type { ApiKeysStore, KeyStoreDeps } from './store'

/** API keys emit no events: there is never a dispatcher to wake. */
const NOTHING_TO_WAKE = () => {}

/** Most keys remembered per database; past it the cache starts over (a few hundred bytes each). */
const MAX_CACHED_KEYS = 10_000

/**
 * Keys looked up by hash, kept per database: every API request authenticates, and the look-up with
 * its row mapping was ~8 % of a lead's CPU. An entry is good while no other connection has committed
 * (`PRAGMA data_version`, which another process's `askad key revoke` changes; it reads no page) and
 * this one has not revoked a key (`revoke` clears the cache). Expiry is checked on every use.
 * Unknown hashes are never cached, so a key created anywhere works at once.
 */
interface KeyCache {
  keys: Map<string, ApiKey>
  dataVersion: number
  /** performance.now() of the last data_version read. */
  checkedAt: number
}

/**
 * How long a data_version read stands for others (it takes the WAL's read lock: ~2 % of a lead's
 * CPU when read per request). Another process's revocation is seen within this: at once, for anyone.
 */
const DATA_VERSION_RECHECK_MS = 1

const keyCaches = new WeakMap<Db, KeyCache>()

function keyCacheOf(db: Db): KeyCache {
  let cache = keyCaches.get(db)
  if (!cache) keyCaches.set(db, (cache = { keys: new Map(), dataVersion: -1, checkedAt: Number.NEGATIVE_INFINITY }))
  const now = performance.now()
  if (now - cache.checkedAt < DATA_VERSION_RECHECK_MS) return cache
  cache.checkedAt = now
  const version = db.$client.query<{ data_version: number }, []>('PRAGMA data_version').get()!.data_version
  if (version !== cache.dataVersion) {
    cache.keys.clear()
    cache.dataVersion = version
  }
  return cache
}

/** Inserts a key row inside a running transaction (bootstrap's too); 409 when its hash is registered already. */
export function insertKeySqlite(tx: DbOrTx, record: ApiKey): void {
  if (tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.hash, record.hash)).get()) {
    throw new ApiError('conflict', 'This key is already registered.')
  }
  tx.insert(apiKeys).values(record).run()
}

/** Drops the database's cached keys; called inside a transaction that revokes keys, so no look-up caches them as they were. */
export function forgetCachedKeys(db: Db): void {
  keyCaches.delete(db)
}

/** The SQLite implementation of the API-key store. */
export function sqliteApiKeysStore(deps: KeyStoreDeps): ApiKeysStore {
  const { db } = deps
  return {
    insert(created) {
      return write({ ...deps, wake: NOTHING_TO_WAKE }, (tx, emit) => {
        insertKeySqlite(tx, created.record)
        emit.audit(keyCreated(created.record), created.record.createdAt)
        return created
      })
    },
    async page(workspaceId, req) {
      return rowidPage(db, apiKeys, eq(apiKeys.workspaceId, workspaceId), req)
    },
    async get(workspaceId, id) {
      return rowInWorkspace(db, apiKeys, workspaceId, id, 'API key')
    },
    async list(workspaceId) {
      return db.select().from(apiKeys).where(eq(apiKeys.workspaceId, workspaceId)).orderBy(desc(apiKeys.createdAt)).all()
    },
    async revoke(workspaceId, id, now) {
      const where = workspaceId ? and(eq(apiKeys.id, id), eq(apiKeys.workspaceId, workspaceId)) : eq(apiKeys.id, id)
      const row = db.select().from(apiKeys).where(where).get()
      if (!row) throw notFound('API key', id)
      if (row.revokedAt) return row
      return write({ ...deps, wake: NOTHING_TO_WAKE }, (tx, emit) => {
        // Inside the transaction: nothing runs between it and the commit, so no look-up can cache the key as it was.
        keyCaches.delete(db)
        const revoked = tx.update(apiKeys).set({ revokedAt: now }).where(eq(apiKeys.id, id)).returning().get()!
        emit.audit(keyRevoked(revoked), now)
        return revoked
      })
    },
    async byHash(hash) {
      const cache = keyCacheOf(db)
      const cached = cache.keys.get(hash)
      if (cached) return cached
      const byHash = prepared(db, 'apiKeys.byHash', (d) =>
        d
          .select()
          .from(apiKeys)
          .where(eq(apiKeys.hash, sql.placeholder('hash')))
          .prepare(),
      )
      const key = byHash.get({ hash })
      if (key) {
        if (cache.keys.size >= MAX_CACHED_KEYS) cache.keys.clear()
        cache.keys.set(hash, key)
      }
      return key
    },
    async touch(id, now) {
      try {
        // It never waits for another process's lock, and a locked, read-only or full database must not turn reads into 503s.
        withoutBusyWait(db.$client, () => db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, id)).run())
        return true
      } catch (error) {
        if (!storageProblem(error)) throw error
        return false
      }
    },
  }
}
