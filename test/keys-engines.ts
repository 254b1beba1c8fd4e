/**
 * Service deps on either engine for the store contract tests of API keys, workspaces, sessions and
 * the dashboard's figures: a real SQLite file in a temp folder, or a fresh migrated PostgreSQL
 * database (test/pg.ts), with a test clock. The same test bodies run on both. Also: several apps
 * on one PostgreSQL database, as nodes behind a load balancer.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app'
import { loadConfig } from '../src/config'
import { openDb } from '../src/db/client'
import { migrate } from '../src/db/migrate'
import { openPg, type PgDb } from '../src/db/pg/client'
import type { ServiceDeps } from '../src/deps'
import { createLogger } from '../src/lib/logger'
import { type TestClock, testClock } from './helpers'
import { migratedTestDatabase, type TestDatabase } from './pg'

export const ENGINES = ['sqlite', 'postgres'] as const
export type Engine = (typeof ENGINES)[number]

export interface EngineDeps {
  engine: Engine
  deps: ServiceDeps & { clock: TestClock }
  /** PostgreSQL only: the database's URL. */
  url?: string
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
    url: database.url,
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

/** Apps on one PostgreSQL database, each with its own pool (a node each), and deps to seed it. */
export interface PgNodes {
  apps: ReturnType<typeof createApp>[]
  deps: ServiceDeps & { clock: TestClock }
  database: TestDatabase & { pg: PgDb }
  close(): Promise<void>
}

/**
 * `count` apps on a fresh PostgreSQL database. Their SQLite file only satisfies the parts of the app
 * not ported yet, which these tests do not use.
 */
export async function pgNodes(count: number, env: Record<string, string> = {}): Promise<PgNodes> {
  const database = await migratedTestDatabase()
  const dir = mkdtempSync(join(tmpdir(), 'askad-pg-nodes-'))
  const dbPath = join(dir, 'askad.db')
  const db = openDb(dbPath)
  migrate(db)
  const clock = testClock()
  const config = loadConfig({ db: dbPath }, env)
  const pools = Array.from({ length: count }, () => openPg(database.url, { max: 5 }))
  const apps = pools.map((pg) => createApp({ db, pg, clock, config, logger: createLogger('error'), wake: NOTHING_TO_WAKE }))
  return {
    apps,
    deps: { db, pg: database.pg, clock, wake: NOTHING_TO_WAKE },
    database,
    async close() {
      await Promise.all(pools.map((pg) => pg.$client.close()))
      await database.drop()
      db.$client.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
