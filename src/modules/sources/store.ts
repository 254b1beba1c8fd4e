/** The storage of sources: one interface, a SQLite and a PostgreSQL implementation (store.sqlite.ts, store.pg.ts). */
import type { sources } from '../../db/schema'
import type { ServiceDeps } from '../../deps'
import type { PageRequest } from '../../lib/pagination'
import type { PresetName } from './presets/types'
import { pgSourcesStore } from './store.pg'
import { sqliteSourcesStore } from './store.sqlite'

/** A source row: the token's hash only; the secrets as stored (sealed when ASKAD_SECRET_KEY is set). */
export type Source = Omit<typeof sources.$inferSelect, 'preset'> & { preset: PresetName }

/** A new token for a source: what listings show of it and its hash. */
export interface TokenRecord {
  prefix: string
  hash: string
}

/** What the source service needs of storage; every write is one transaction of its own. */
export interface SourcesStore {
  /** Stores a new source (`created.record`), with the request's Idempotency-Key answer made from `created`; 409 on a hash clash. */
  insert<T extends { record: Source }>(created: T): Promise<T>
  /** One page of a workspace's sources, newest first, each with its insertion order as the cursor. */
  page(workspaceId: string, req: PageRequest): Promise<{ rows: { seq: number; row: Source }[]; total: number; hasMore: boolean }>
  /** A source of the workspace, else 404. */
  get(workspaceId: string, id: string): Promise<Source>
  /** Every source of a workspace, newest first. */
  list(workspaceId: string): Promise<Source[]>
  /**
   * Gives a live source a new token at once (the old one stops matching in the same commit); 404 when
   * missing, 409 when revoked. `result` turns the new row into the work's result (the Idempotency-Key answer's source).
   */
  rotate<T>(workspaceId: string, id: string, token: TokenRecord, now: number, result: (row: Source) => T): Promise<T>
  /** Sets `revoked_at` to `now` unless already set; the source as it is then, else 404. */
  revoke(workspaceId: string, id: string, now: number): Promise<Source>
  /** The source with this token hash, if any. */
  byHash(hash: string): Promise<Source | undefined>
  /** A source with a secret in the encrypted form, if any (the start-up check that ASKAD_SECRET_KEY opens them). */
  findSealed(): Promise<Source | undefined>
  /** Rewrites every source's secrets with `reseal(row)` in one transaction (all or none); resolves with the rows rewritten. */
  resealAll(reseal: (row: Source) => SourceSecretColumns): Promise<SourceSecretColumns[]>
  /** Notes that a source was used at `now`; bookkeeping that never waits for a lock and never fails a request. */
  touch(id: string, now: number): Promise<void>
}

/** The columns holding a source's secrets as stored. */
export type SourceSecretColumns = Pick<Source, 'signingSecret' | 'verifyToken' | 'accessToken'>

/** What the stores are built from: storage and, for writes that answer a request, its pending Idempotency-Key answer. */
export type SourceStoreDeps = Pick<ServiceDeps, 'db' | 'pg'> & Partial<Pick<ServiceDeps, 'engine' | 'storeAnswer' | 'storePgAnswer' | 'actor'>>

/** The source store of the engine the deps run on. */
export function sourcesStore(deps: SourceStoreDeps): SourcesStore {
  return deps.pg ? pgSourcesStore({ ...deps, pg: deps.pg }) : sqliteSourcesStore(deps)
}
