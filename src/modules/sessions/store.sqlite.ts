/** Dashboard sessions on SQLite: reads on the connection, writes through the unit of work. */
import { eq } from 'drizzle-orm'
import { apiKeys, operators, sessions } from '../../db/schema'
import { write } from '../../db/unit-of-work'
import type { ServiceDeps } from '../../deps'
import type { SessionsStore } from './store'

/** The SQLite implementation of the session store. */
export function sqliteSessionsStore(deps: ServiceDeps): SessionsStore {
  return {
    async insert(session) {
      await write(deps, (tx) => {
        tx.insert(sessions).values(session).run()
      })
    },
    async find(hash) {
      const row = deps.db
        .select({ session: sessions, key: apiKeys, operator: operators })
        .from(sessions)
        .leftJoin(apiKeys, eq(apiKeys.id, sessions.apiKeyId))
        .leftJoin(operators, eq(operators.id, sessions.operatorId))
        .where(eq(sessions.hash, hash))
        .get()
      return row && { session: row.session, key: row.key ?? undefined, operator: row.operator ?? undefined }
    },
    async setWorkspace(hash, workspaceId) {
      await write(deps, (tx) => {
        tx.update(sessions).set({ workspaceId }).where(eq(sessions.hash, hash)).run()
      })
    },
    async slide(hash, expiresAt) {
      await write(deps, (tx) => {
        tx.update(sessions).set({ expiresAt }).where(eq(sessions.hash, hash)).run()
      })
    },
    async delete(hash) {
      await write(deps, (tx) => {
        tx.delete(sessions).where(eq(sessions.hash, hash)).run()
      })
    },
  }
}
