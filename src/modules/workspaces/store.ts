/** The storage of workspaces: one interface, a SQLite and a PostgreSQL implementation (store.sqlite.ts, store.pg.ts). */
import type { ApiKey } from '../../db/api-key'
import type { workspaces } from '../../db/schema'
import type { AuditEntry } from '../../db/audit'
import type { ReadDeps } from '../../deps'
import type { Actor } from '../../lib/actor'
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
  rename(id: string, name: string, now: number): Promise<boolean>
  /** Deletes a workspace and, by cascade, everything in it; false when it does not exist. */
  delete(id: string, now: number): Promise<boolean>
  /**
   * In one transaction, and only while there is no workspace at all: stores the workspace and the
   * first key that `make` builds (called only then). Null when a workspace exists, nothing stored.
   * Nodes starting together store one.
   */
  bootstrap<T extends { workspace: Workspace; key: ApiKey }>(make: () => T): Promise<T | null>
}

/** The workspace store of the engine the deps run on. */
export function workspacesStore(deps: ReadDeps & { actor?: Actor }): WorkspacesStore {
  return deps.pg ? pgWorkspacesStore(deps.pg, deps.actor) : sqliteWorkspacesStore(deps.db, deps.actor)
}

/** The refusal of a slug that is taken, the same on both engines. */
export function slugTaken(slug: string): ApiError {
  return new ApiError('conflict', `Workspace '${slug}' already exists.`)
}

/** The audit-log entry of a rename. */
export function workspaceRenamed(before: Workspace, name: string): AuditEntry {
  return { workspaceId: before.id, action: 'workspace.renamed', target: { type: 'workspace', id: before.id }, details: { from: before.name, to: name } }
}

/** The audit-log entry of a deletion: it outlives the workspace (the log has no tie to it), naming what went. */
export function workspaceDeleted(before: Workspace): AuditEntry {
  return {
    workspaceId: before.id,
    action: 'workspace.deleted',
    target: { type: 'workspace', id: before.id },
    details: { slug: before.slug, name: before.name },
  }
}
