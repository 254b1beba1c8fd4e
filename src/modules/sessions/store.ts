/** The storage of dashboard sessions: one interface, a SQLite and a PostgreSQL implementation (store.sqlite.ts, store.pg.ts). */
import type { ApiKey } from '../../db/api-key'
import type { sessions } from '../../db/schema'
import type { Operator } from '../operators/store'
import type { ServiceDeps } from '../../deps'
import { pgSessionsStore } from './store.pg'
import { sqliteSessionsStore } from './store.sqlite'

export type Session = typeof sessions.$inferSelect

/** What the session service needs of storage; each write is one transaction. */
export interface SessionsStore {
  insert(session: Session): Promise<void>
  /** The session with this token hash and the key or operator it acts as (undefined when gone). */
  find(hash: string): Promise<{ session: Session; key: ApiKey | undefined; operator: Operator | undefined } | undefined>
  /** Remembers the workspace an operator's session used last. */
  setWorkspace(hash: string, workspaceId: string): Promise<void>
  /** Moves the idle deadline. */
  slide(hash: string, expiresAt: number): Promise<void>
  delete(hash: string): Promise<void>
}

/** The session store of the engine the deps run on. */
export function sessionsStore(deps: ServiceDeps): SessionsStore {
  return deps.pg ? pgSessionsStore({ ...deps, pg: deps.pg }) : sqliteSessionsStore(deps)
}
