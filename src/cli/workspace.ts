/** `askad workspace create|list`. */
import type { ClockDeps } from '../deps'
import { operatorByEmail } from '../modules/operators/service'
import { createWorkspace, createWorkspaceFor, listWorkspaces, serializeWorkspace } from '../modules/workspaces/service'
import { table, type Output } from './output'

/** `askad workspace create SLUG [--name N] [--owner EMAIL]`: with an owner, that operator sees it in the dashboard. */
export async function workspaceCreate(deps: ClockDeps, out: Output, slug: string, flags: { name?: string; owner?: string }): Promise<void> {
  const owner = flags.owner === undefined ? undefined : await operatorByEmail(deps, flags.owner)
  const input = { slug, name: flags.name }
  const ws = serializeWorkspace(owner ? await createWorkspaceFor(deps, owner.id, input) : await createWorkspace(deps, input))
  out.result(owner ? { ...ws, owner: owner.email } : ws, () => `Created workspace '${ws.slug}' (${ws.id})${owner ? `, owned by ${owner.email}` : ''}.`)
}

/** `askad workspace list`. */
export async function workspaceList(deps: ClockDeps, out: Output): Promise<void> {
  const all = (await listWorkspaces(deps)).map(serializeWorkspace)
  out.result(all, () => table(all, ['slug', 'id', 'name', 'created_at']))
}
