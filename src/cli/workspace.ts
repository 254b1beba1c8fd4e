/** `askad workspace create|list`. */
import type { ClockDeps } from '../deps'
import { createWorkspace, listWorkspaces, serializeWorkspace } from '../modules/workspaces/service'
import { table, type Output } from './output'

/** `askad workspace create SLUG [--name N]`. */
export async function workspaceCreate(deps: ClockDeps, out: Output, slug: string, flags: { name?: string }): Promise<void> {
  const ws = serializeWorkspace(await createWorkspace(deps, { slug, name: flags.name }))
  out.result(ws, () => `Created workspace '${ws.slug}' (${ws.id}).`)
}

/** `askad workspace list`. */
export async function workspaceList(deps: ClockDeps, out: Output): Promise<void> {
  const all = (await listWorkspaces(deps)).map(serializeWorkspace)
  out.result(all, () => table(all, ['slug', 'id', 'name', 'created_at']))
}
