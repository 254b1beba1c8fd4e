/**
 * Dashboard sessions on PostgreSQL, shared by every node (no sticky sessions). Each write is one
 * statement; moving the idle deadline only ever moves it forward, so two nodes sliding one session
 * at once cannot shorten it.
 */
import { eq } from 'drizzle-orm'
import type { PgDb } from '../../db/pg/client'
import { apiKeys, operators, sessions } from '../../db/pg/schema'
import { writePg } from '../../db/pg/unit-of-work'
import type { ServiceDeps } from '../../deps'
import type { SessionsStore } from './store'

/** The PostgreSQL implementation of the session store. */
export function pgSessionsStore(deps: ServiceDeps & { pg: PgDb }): SessionsStore {
  return {
    async insert(session) {
      await writePg(deps, async (tx) => {
        await tx.insert(sessions).values(session)
      })
    },
    async find(hash) {
      const [row] = await deps.pg
        .select({ session: sessions, key: apiKeys, operator: operators })
        .from(sessions)
        .leftJoin(apiKeys, eq(apiKeys.id, sessions.apiKeyId))
        .leftJoin(operators, eq(operators.id, sessions.operatorId))
        .where(eq(sessions.hash, hash))
      if (!row) return undefined
      const operator = row.operator ?? undefined
      if (!row.key) return { session: row.session, key: undefined, operator }
      const { rowid: _, ...key } = row.key
      return { session: row.session, key, operator }
    },
    async setWorkspace(hash, workspaceId) {
      await writePg(deps, (tx) => tx.update(sessions).set({ workspaceId }).where(eq(sessions.hash, hash)))
    },
    async slide(hash, expiresAt) {
      await writePg(deps, (tx) => tx.$client`UPDATE sessions SET expires_at = GREATEST(expires_at, ${expiresAt}) WHERE hash = ${hash}`)
    },
    async delete(hash) {
      await writePg(deps, (tx) => tx.$client`DELETE FROM sessions WHERE hash = ${hash}`)
    },
  }
}
