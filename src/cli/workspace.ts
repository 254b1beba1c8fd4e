/** `askad workspace create|list`. */
import type { Db } from '../db/client'
import { systemClock } from '../lib/clock'
import { createWorkspace, listWorkspaces, serializeWorkspace } from '../modules/workspaces/service'
import { CliError, table, type Output } from './output'

/** `askad workspace create SLUG [--name N]`. */
export function workspaceCreate(db: Db, out: Output, args: string[], flags: { name?: string }): void {
  const slug = args[0]
  if (!slug || args.length > 1) throw new CliError('Usage: askad workspace create SLUG [--name "Display name"]', 2)
  const ws = serializeWorkspace(createWorkspace(db, systemClock, { slug, name: flags.name }))
  out.result(ws, () => `Created workspace '${ws.slug}' (${ws.id}).`)
}

/** `askad workspace list`. */
export function workspaceList(db: Db, out: Output): void {
  const all = listWorkspaces(db).map(serializeWorkspace)
  out.result(all, () => table(all, ['slug', 'id', 'name', 'created_at']))
}
