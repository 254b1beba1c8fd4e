/** Workspaces (tenants): creation, lookup by slug or id, and the first-start bootstrap. */
import type { ClockDeps, ReadDeps } from '../../deps'
import { iso } from '../../lib/clock'
import { ApiError, invalid, notFound } from '../../errors'
import { newId } from '../../lib/ids'
import { newKey, type CreatedKey } from '../api-keys/service'
import { insertOwnedWorkspace, type ActingDeps } from '../operators/service'
import { workspacesStore, type Workspace } from './store'

export type { Workspace } from './store'

/** Longest display name of a workspace. */
const NAME_MAX_CHARS = 100

const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/
/**
 * Workspace ids' shape (UUIDs). A workspace is named by its slug or its id, so a slug of this shape
 * could be another workspace's id: look-ups by id (invites, key sessions, the CLI) would find the wrong one.
 */
const ID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

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
  if (ID_SHAPE.test(slug)) throw invalid('/slug', 'must not have the shape of a workspace id (a UUID)')
  return { id: newId(), slug, name: input.name?.trim() || slug, createdAt: now }
}

/** A workspace's display name, checked: 1 to 100 characters after trimming. */
function checkName(name: string): string {
  const trimmed = name.trim()
  if (trimmed.length === 0 || trimmed.length > NAME_MAX_CHARS) throw invalid('/name', `must be 1 to ${NAME_MAX_CHARS} characters long`)
  return trimmed
}

/** Creates a workspace owned by an operator (the dashboard); 409 when the slug is taken. */
export async function createWorkspaceFor(deps: ActingDeps, operatorId: string, input: { slug: string; name?: string }): Promise<Workspace> {
  const row = newWorkspace(deps.clock.now(), {
    slug: input.slug,
    name: input.name === undefined || input.name.trim() === '' ? undefined : checkName(input.name),
  })
  await insertOwnedWorkspace(deps, row, operatorId)
  return row
}

/** Renames a workspace (its display name; the slug in URLs and the API stays). */
export async function renameWorkspace(deps: ActingDeps, id: string, name: string): Promise<void> {
  if (!(await workspacesStore(deps).rename(id, checkName(name), deps.clock.now()))) throw notFound('workspace', id)
}

/** Deletes a workspace and everything in it (contacts, leads, deals, keys, webhooks, members). */
export async function deleteWorkspace(deps: ActingDeps, id: string): Promise<void> {
  if (!(await workspacesStore(deps).delete(id, deps.clock.now()))) throw notFound('workspace', id)
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
