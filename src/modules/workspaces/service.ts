/** Workspaces (tenants): creation, lookup by slug or id, and the first-start bootstrap. */
import type { ClockDeps, ReadDeps } from '../../deps'
import { iso } from '../../lib/clock'
import { ApiError } from '../../errors'
import { newId } from '../../lib/ids'
import { newKey, type CreatedKey } from '../api-keys/service'
import { workspacesStore, type Workspace } from './store'

export type { Workspace } from './store'

const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/

/** The public shape of a workspace, as the CLI prints it. */
export function serializeWorkspace(w: Workspace) {
  return { id: w.id, slug: w.slug, name: w.name, created_at: iso(w.createdAt)! }
}

/** A new workspace row from checked input, not yet stored. */
function newWorkspace(now: number, input: { slug: string; name?: string }): Workspace {
  const slug = input.slug.trim().toLowerCase()
  if (!SLUG_PATTERN.test(slug)) {
    throw new ApiError('validation_failed', `Invalid workspace slug '${input.slug}': use a-z, 0-9 and '-', at most 63 characters.`, [
      { path: '/slug', message: 'must match ^[a-z0-9][a-z0-9-]{0,62}$' },
    ])
  }
  return { id: newId(), slug, name: input.name?.trim() || slug, createdAt: now }
}

/** Creates a workspace; the slug is lower-case letters, digits and dashes. */
export async function createWorkspace(deps: ClockDeps, input: { slug: string; name?: string }): Promise<Workspace> {
  const row = newWorkspace(deps.clock.now(), input)
  await workspacesStore(deps).insert(row)
  return row
}

/** Every workspace, oldest first. */
export function listWorkspaces(deps: ReadDeps): Promise<Workspace[]> {
  return workspacesStore(deps).list()
}

/** A workspace by slug or id, or undefined. */
export function findWorkspace(deps: ReadDeps, slugOrId: string): Promise<Workspace | undefined> {
  return workspacesStore(deps).find(slugOrId)
}

/**
 * On an empty database: creates workspace `default` and one all-scopes secret key
 * (the given one, for scripted installs, else a random one). Returns null when not empty.
 */
export async function bootstrap(deps: ClockDeps, bootstrapKey?: string): Promise<{ workspace: Workspace; created: CreatedKey } | null> {
  const made = await workspacesStore(deps).bootstrap(() => {
    const now = deps.clock.now()
    const workspace = newWorkspace(now, { slug: 'default', name: 'Default' })
    const created = newKey(now, { workspaceId: workspace.id, kind: 'secret', name: 'bootstrap' }, bootstrapKey)
    return { workspace, key: created.record, created }
  })
  return made && { workspace: made.workspace, created: made.created }
}
