/** The storage of API keys: one interface, a SQLite and a PostgreSQL implementation (store.sqlite.ts, store.pg.ts). */
import type { ApiKey } from '../../db/api-key'
import type { ServiceDeps } from '../../deps'
import type { PageRequest } from '../../lib/pagination'
import { pgApiKeysStore } from './store.pg'
import { sqliteApiKeysStore } from './store.sqlite'

/** What the API-key service needs of storage; every write is one transaction of its own. */
export interface ApiKeysStore {
  /**
   * Stores a new key (`created.record`), with the request's Idempotency-Key answer when it has one,
   * made from `created` (the unit of work's result); 409 when the key is registered already.
   */
  insert<T extends { record: ApiKey }>(created: T): Promise<T>
  /** One page of a workspace's keys, newest first, each with its insertion order as the cursor. */
  page(workspaceId: string, req: PageRequest): Promise<{ rows: { seq: number; row: ApiKey }[]; total: number; hasMore: boolean }>
  /** A key of the workspace, else 404. */
  get(workspaceId: string, id: string): Promise<ApiKey>
  /** Every key of a workspace, newest first. */
  list(workspaceId: string): Promise<ApiKey[]>
  /** Sets `revoked_at` to `now` unless already set (any workspace when null); the key as it is then, else 404. */
  revoke(workspaceId: string | null, id: string, now: number): Promise<ApiKey>
  /** The key with this hash, if any. */
  byHash(hash: string): Promise<ApiKey | undefined>
  /** Notes that a key was used at `now`; bookkeeping that never waits for a lock and never fails a request. True when written. */
  touch(id: string, now: number): Promise<boolean>
}

/** What the stores are built from: storage and, for writes that answer a request, its pending Idempotency-Key answer. */
export type KeyStoreDeps = Pick<ServiceDeps, 'db' | 'pg'> & Partial<Pick<ServiceDeps, 'engine' | 'storeAnswer' | 'storePgAnswer' | 'actor'>>

/** The API-key store of the engine the deps run on. */
export function apiKeysStore(deps: KeyStoreDeps): ApiKeysStore {
  return deps.pg ? pgApiKeysStore({ ...deps, pg: deps.pg }) : sqliteApiKeysStore(deps)
}
