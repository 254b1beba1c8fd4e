/**
 * Service deps on either engine for the store contract tests of API keys, workspaces, sessions and
 * the dashboard's figures: a real SQLite file in a temp folder, or a fresh migrated PostgreSQL
 * database (test/pg.ts), with a test clock. The same test bodies run on both.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../src/db/client'
import { migrate } from '../src/db/migrate'
import { openPg, type PgDb } from '../src/db/pg/client'
import type { ServiceDeps } from '../src/deps'
import { type TestClock, testClock } from './helpers'
import { migratedTestDatabase } from './pg'

export const ENGINES = ['sqlite', 'postgres'] as const
export type Engine = (typeof ENGINES)[number]

export interface EngineDeps {
  engine: Engine
  deps: ServiceDeps & { clock: TestClock }
  /** PostgreSQL only: deps on another pool of the same database, as another node has (closed by `close`). */
  node(): ServiceDeps & { clock: TestClock }
  close(): Promise<void>
}

const NOTHING_TO_WAKE = () => {}

/** Deps on a fresh database of `engine`. */
export async function engineDeps(engine: Engine): Promise<EngineDeps> {
  const clock = testClock()
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'askad-store-'))
    const db = openDb(join(dir, 'askad.db'))
    migrate(db)
    return {
      engine,
      deps: { db, clock, wake: NOTHING_TO_WAKE },
      node() {
        throw new Error('one SQLite file, one node')
      },
      async close() {
        db.$client.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  const database = await migratedTestDatabase()
  const pools: PgDb[] = []
  // On PostgreSQL the services never touch `db` (deps.ts): it is left out.
  const on = (pg: PgDb) => ({ pg, clock, wake: NOTHING_TO_WAKE }) as Omit<ServiceDeps, 'db'> as ServiceDeps & { clock: TestClock }
  return {
    engine,
    deps: on(database.pg),
    node() {
      const pg = openPg(database.url, { max: 5 })
      pools.push(pg)
      return on(pg)
    },
    async close() {
      await Promise.all(pools.map((pg) => pg.$client.close()))
      await database.drop()
    },
  }
}
