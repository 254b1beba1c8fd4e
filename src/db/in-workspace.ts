/** Looking up one row of a workspace-owned table, as every `getX` service does. */
import { and, eq } from 'drizzle-orm'
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import { notFound } from '../errors'
import type { DbOrTx } from './client'

/** A table whose rows belong to a workspace and have an id. */
type OwnedTable = SQLiteTable & { id: SQLiteColumn; workspaceId: SQLiteColumn }

/**
 * The row with this id in this workspace, or a 404 naming `what`: another workspace's id is a 404
 * too, never a 403, so nothing confirms that it exists (SPEC §2).
 */
export function rowInWorkspace<T extends OwnedTable>(db: DbOrTx, table: T, workspaceId: string, id: string, what: string): T['$inferSelect'] {
  const row = db
    .select()
    .from(table as SQLiteTable)
    .where(and(eq(table.workspaceId, workspaceId), eq(table.id, id)))
    .get()
  if (!row) throw notFound(what, id)
  return row as T['$inferSelect']
}
