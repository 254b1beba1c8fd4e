/** Workspaces (tenants): creation, lookup by slug or id, and the first-start bootstrap. */
import { asc, eq, or } from 'drizzle-orm'
import type { ClockDeps, ReadDeps } from '../../deps'
import { workspaces } from '../../db/schema'
import { iso } from '../../lib/clock'
import { ApiError } from '../../errors'
import { newId } from '../../lib/ids'
import { createKey, type CreatedKey } from '../api-keys/service'

export type Workspace = typeof workspaces.$inferSelect

const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/

/** The public shape of a workspace, as the CLI prints it. */
export function serializeWorkspace(w: Workspace) {
  return { id: w.id, slug: w.slug, name: w.name, created_at: iso(w.createdAt)! }
}

/** Creates a workspace; the slug is lower-case letters, digits and dashes. */
export function createWorkspace({ db, clock }: ClockDeps, input: { slug: string; name?: string }): Workspace {
  const slug = input.slug.trim().toLowerCase()
  if (!SLUG_PATTERN.test(slug)) {
    throw new ApiError('validation_failed', `Invalid workspace slug '${input.slug}': use a-z, 0-9 and '-', at most 63 characters.`, [
      { path: '/slug', message: 'must match ^[a-z0-9][a-z0-9-]{0,62}$' },
    ])
  }
  if (findWorkspace({ db }, slug)) throw new ApiError('conflict', `Workspace '${slug}' already exists.`)
  const row: Workspace = { id: newId(), slug, name: input.name?.trim() || slug, createdAt: clock.now() }
  db.insert(workspaces).values(row).run()
  return row
}

/** Every workspace, oldest first. */
export function listWorkspaces({ db }: ReadDeps): Workspace[] {
  return db.select().from(workspaces).orderBy(asc(workspaces.createdAt)).all()
}

/** A workspace by slug or id, or undefined. */
export function findWorkspace({ db }: ReadDeps, slugOrId: string): Workspace | undefined {
  return db
    .select()
    .from(workspaces)
    .where(or(eq(workspaces.slug, slugOrId), eq(workspaces.id, slugOrId)))
    .get()
}

/**
 * On an empty database: creates workspace `default` and one all-scopes secret key
 * (the given one, for scripted installs, else a random one). Returns null when not empty.
 */
export function bootstrap({ db, clock }: ClockDeps, bootstrapKey?: string): { workspace: Workspace; created: CreatedKey } | null {
  return db.transaction(
    () => {
      if (db.select({ id: workspaces.id }).from(workspaces).limit(1).get()) return null
      const workspace = createWorkspace({ db, clock }, { slug: 'default', name: 'Default' })
      const created = createKey(db, clock, { workspaceId: workspace.id, kind: 'secret', name: 'bootstrap' }, bootstrapKey)
      return { workspace, created }
    },
    { behavior: 'immediate' },
  )
}
