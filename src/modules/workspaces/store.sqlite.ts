/** Workspaces on SQLite: start-up and CLI writes, each in one synchronous transaction. */
import { asc, eq, inArray, or } from 'drizzle-orm'
import type { Db, DbOrTx } from '../../db/client'
import { commitAlone } from '../../db/group-commit'
import { apiKeys, idempotencyKeys, memberships, operators, sources, workspaces } from '../../db/schema'
import { write } from '../../db/unit-of-work'
import type { Actor } from '../../lib/actor'
import { insertKeySqlite } from '../api-keys/store.sqlite'
import { slugTaken, workspaceDeleted, workspaceRenamed, type Workspace, type WorkspacesStore } from './store'

/** Workspaces emit no events: there is never a dispatcher to wake. */
const NOTHING_TO_WAKE = () => {}

function find(db: DbOrTx, slugOrId: string): Workspace | undefined {
  return db
    .select()
    .from(workspaces)
    .where(or(eq(workspaces.slug, slugOrId), eq(workspaces.id, slugOrId)))
    .get()
}

function insert(db: DbOrTx, row: Workspace): void {
  if (find(db, row.slug)) throw slugTaken(row.slug)
  db.insert(workspaces).values(row).run()
}

/** The SQLite implementation of the workspace store. */
export function sqliteWorkspacesStore(db: Db, actor?: Actor): WorkspacesStore {
  return {
    async insert(row) {
      insert(db, row)
    },
    async list() {
      return db.select().from(workspaces).orderBy(asc(workspaces.createdAt)).all()
    },
    async find(slugOrId) {
      return find(db, slugOrId)
    },
    rename(id, name, now) {
      return write({ db, wake: NOTHING_TO_WAKE, actor }, (tx, emit) => {
        const before = find(tx, id)
        if (!before || before.id !== id) return false
        tx.update(workspaces).set({ name }).where(eq(workspaces.id, id)).run()
        emit.audit(workspaceRenamed(before, name), now)
        return true
      })
    },
    delete(id, now) {
      return write({ db, wake: NOTHING_TO_WAKE, actor }, (tx, emit) => {
        const before = find(tx, id)
        if (!before || before.id !== id) return false
        // Stored answers are keyed by a key's or a source's id with no foreign key (a source owns some): gone with them.
        const owners = [
          tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.workspaceId, id)),
          tx.select({ id: sources.id }).from(sources).where(eq(sources.workspaceId, id)),
        ]
        for (const owner of owners) tx.delete(idempotencyKeys).where(inArray(idempotencyKeys.apiKeyId, owner)).run()
        tx.delete(workspaces).where(eq(workspaces.id, id)).run()
        emit.audit(workspaceDeleted(before), now)
        return true
      })
    },
    async bootstrap(make) {
      // Through commitAlone: with durability full, the key the banner shows once is on disk before it is shown.
      return commitAlone(db, (tx) => {
        if (tx.select({ id: workspaces.id }).from(workspaces).limit(1).get()) return null
        const made = make()
        insert(tx, made.workspace)
        insertKeySqlite(tx, made.key)
        // Operators made before the first start (askad operator create) own every workspace, this one too.
        for (const { id } of tx.select({ id: operators.id }).from(operators).all())
          tx.insert(memberships).values({ workspaceId: made.workspace.id, operatorId: id, role: 'owner', createdAt: made.workspace.createdAt }).run()
        return made
      })
    },
  }
}
