/**
 * Workspaces on PostgreSQL. The slug's unique index decides between concurrent creations; the
 * first-start bootstrap runs under one advisory lock, so nodes starting together on an empty
 * database queue there and exactly one of them creates the workspace and its key.
 */
import { asc, eq, inArray, or } from 'drizzle-orm'
import type { PgDb } from '../../db/pg/client'
import type { PgDbOrTx } from '../../db/pg/pages'
import { apiKeys, idempotencyKeys, memberships, operators, sources, workspaces } from '../../db/pg/schema'
import { lockKeys, type PgTx, writePg } from '../../db/pg/unit-of-work'
import type { Actor } from '../../lib/actor'
import { insertKeyPg } from '../api-keys/store.pg'
import { slugTaken, workspaceDeleted, workspaceRenamed, type Workspace, type WorkspacesStore } from './store'

/** The advisory lock bootstrap runs under (lockKeys hashes it). */
const BOOTSTRAP_LOCK = 'askad:bootstrap'

/** Workspaces emit no events: there is never a dispatcher to wake. */
const NOTHING_TO_WAKE = () => {}

async function find(db: PgDbOrTx, slugOrId: string): Promise<Workspace | undefined> {
  const [row] = await db
    .select()
    .from(workspaces)
    .where(or(eq(workspaces.slug, slugOrId), eq(workspaces.id, slugOrId)))
  return row
}

async function insert(tx: PgTx, row: Workspace): Promise<void> {
  const inserted = await tx.insert(workspaces).values(row).onConflictDoNothing({ target: workspaces.slug }).returning({ id: workspaces.id })
  if (inserted.length === 0) throw slugTaken(row.slug)
}

/** The PostgreSQL implementation of the workspace store. */
export function pgWorkspacesStore(pg: PgDb, actor?: Actor): WorkspacesStore {
  const deps = { pg, wake: NOTHING_TO_WAKE, actor }
  return {
    async insert(row) {
      await writePg(deps, (tx) => insert(tx, row))
    },
    async list() {
      return pg.select().from(workspaces).orderBy(asc(workspaces.createdAt))
    },
    find(slugOrId) {
      return find(pg, slugOrId)
    },
    rename(id, name, now) {
      return writePg(deps, async (tx, emit) => {
        const [before] = await tx.select().from(workspaces).where(eq(workspaces.id, id)).for('update')
        if (!before) return false
        await tx.update(workspaces).set({ name }).where(eq(workspaces.id, id))
        await emit.audit(workspaceRenamed(before, name), now)
        return true
      })
    },
    delete(id, now) {
      return writePg(deps, async (tx, emit) => {
        // Stored answers are keyed by a key's or a source's id with no foreign key (a source owns some): gone with them.
        for (const owner of [
          tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.workspaceId, id)),
          tx.select({ id: sources.id }).from(sources).where(eq(sources.workspaceId, id)),
        ])
          await tx.delete(idempotencyKeys).where(inArray(idempotencyKeys.apiKeyId, owner))
        const [before] = await tx.delete(workspaces).where(eq(workspaces.id, id)).returning()
        if (!before) return false
        await emit.audit(workspaceDeleted(before), now)
        return true
      })
    },
    bootstrap(make) {
      return writePg(deps, async (tx) => {
        // Held until the commit: a node that waited here then sees the workspace the first one made.
        await lockKeys(tx, [BOOTSTRAP_LOCK])
        const [any] = await tx.select({ id: workspaces.id }).from(workspaces).limit(1)
        if (any) return null
        const made = make()
        await insert(tx, made.workspace)
        await insertKeyPg(tx, made.key)
        // Operators made before the first start (askad operator create) own every workspace, this one too.
        const owners = await tx.select({ id: operators.id }).from(operators)
        if (owners.length > 0)
          await tx
            .insert(memberships)
            .values(owners.map(({ id }) => ({ workspaceId: made.workspace.id, operatorId: id, role: 'owner' as const, createdAt: made.workspace.createdAt })))
        return made
      })
    },
  }
}
