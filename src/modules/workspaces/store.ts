/** The storage of workspaces: one interface, a SQLite and a PostgreSQL implementation (store.sqlite.ts, store.pg.ts). */
import type { ApiKey } from '../../db/api-key'
import type { workspaces } from '../../db/schema'
import type { ReadDeps } from '../../deps'
import { ApiError } from '../../errors'
import { pgWorkspacesStore } from './store.pg'
import { sqliteWorkspacesStore } from './store.sqlite'

export type Workspace = typeof workspaces.$inferSelect

/** What the workspace service needs of storage. */
export interface WorkspacesStore {
  /** Stores a new workspace; 409 when its slug is taken. */
  insert(row: Workspace): Promise<void>
  /** Every workspace, oldest first. */
  list(): Promise<Workspace[]>
  /** A workspace by slug or id. */
  find(slugOrId: string): Promise<Workspace | undefined>
  /** Sets a workspace's display name; false when it does not exist. */
  rename(id: string, name: string): Promise<boolean>
  /** Deletes a workspace and, by cascade, everything in it; false when it does not exist. */
  delete(id: string): Promise<boolean>
  /**
   * In one transaction, and only while there is no workspace at all: stores the workspace and the
   * first key that `make` builds (called only then). Null when a workspace exists, nothing stored.
   * Nodes starting together store one.
   */
  bootstrap<T extends { workspace: Workspace; key: ApiKey }>(make: () => T): Promise<T | null>
}

/** The workspace store of the engine the deps run on. */
export function workspacesStore(deps: ReadDeps): WorkspacesStore {
  return deps.pg ? pgWorkspacesStore(deps.pg) : sqliteWorkspacesStore(deps.db)
}

/** The refusal of a slug that is taken, the same on both engines. */
export function slugTaken(slug: string): ApiError {
  return new ApiError('conflict', `Workspace '${slug}' already exists.`)
}
