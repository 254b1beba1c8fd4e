/** `askad workspace create|list`. */
import type { Db } from '../db/client'
import { systemClock } from '../lib/clock'
import { createWorkspace, listWorkspaces, serializeWorkspace } from '../modules/workspaces/service'
import { table, type Output } from './output'

/** `askad workspace create SLUG [--name N]`. */
export function workspaceCreate(db: Db, out: Output, slug: string, flags: { name?: string }): void {
  const ws = serializeWorkspace(createWorkspace({ db, clock: systemClock }, { slug, name: flags.name }))
  out.result(ws, () => `Created workspace '${ws.slug}' (${ws.id}).`)
}

/** `askad workspace list`. */
export function workspaceList(db: Db, out: Output): void {
  const all = listWorkspaces({ db }).map(serializeWorkspace)
  out.result(all, () => table(all, ['slug', 'id', 'name', 'created_at']))
}
