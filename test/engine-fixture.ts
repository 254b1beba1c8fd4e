/**
 * One storage engine for store contract tests: a real SQLite file in a temp folder, or a fresh
 * database on the test PostgreSQL server (test/pg.ts), with service deps on it and a counter of
 * the dispatcher's wake-ups. The same test body runs on both.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config'
import { openDb, type Db } from '../src/db/client'
import { migrate } from '../src/db/migrate'
import { openPg, type PgDb } from '../src/db/pg/client'
import type { AppDeps } from '../src/deps'
import { createLogger } from '../src/lib/logger'
import { testClock, type TestClock } from './helpers'
import { migratedTestDatabase } from './pg'

export const ENGINES = ['sqlite', 'postgres'] as const
export type Engine = (typeof ENGINES)[number]

export interface EngineFixture {
  engine: Engine
  deps: AppDeps
  clock: TestClock
  /** How often the unit of work woke the dispatcher. */
  woken(): number
  /** Raw SQL with `?` placeholders on the engine; resolves with the rows (PostgreSQL's int8 columns as strings). */
  exec(sql: string, ...params: unknown[]): Promise<Record<string, unknown>[]>
  /** A new workspace's id. */
  workspace(): Promise<string>
  /** More nodes on the same PostgreSQL database (own pools, same clock and config): deps for each. */
  nodes(count: number): AppDeps[]
  close(): Promise<void>
}

let workspaces = 0

/** Opens a fresh database of `engine` with askad's schema; `env` sets configuration (ASKAD_…). */
export async function openEngine(engine: Engine, env: Record<string, string> = {}): Promise<EngineFixture> {
  const clock = testClock()
  let wakes = 0
  const base = (dbPath: string) => ({
    clock,
    config: loadConfig({ db: dbPath }, { LOG_LEVEL: 'error', ...env }),
    logger: createLogger('error', () => {}),
    wake: () => void wakes++,
    // Public addresses for every host: the SSRF guard has its own tests.
    resolveHost: async () => ['93.184.216.34'],
  })

  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'askad-store-'))
    const dbPath = join(dir, 'askad.db')
    const db = openDb(dbPath)
    migrate(db)
    const exec = async (sql: string, ...params: unknown[]) => db.$client.query(sql).all(...(params as never[])) as Record<string, unknown>[]
    return {
      engine,
      deps: { db, ...base(dbPath) },
      clock,
      woken: () => wakes,
      exec,
      workspace: () => insertWorkspace(exec),
      nodes: () => {
        throw new Error('several nodes need PostgreSQL')
      },
      async close() {
        db.$client.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }

  const database = await migratedTestDatabase()
  const pools: PgDb[] = []
  const pgDeps = (pg: PgDb): AppDeps => ({
    // A PostgreSQL node has no SQLite database: a store touching `db` there fails the test.
    db: undefined as unknown as Db,
    pg,
    ...base(database.url),
  })
  const exec = async (sql: string, ...params: unknown[]) => {
    let n = 0
    return (await database.pg.$client.unsafe(
      sql.replace(/\?/g, () => `$${++n}`),
      params,
    )) as Record<string, unknown>[]
  }
  return {
    engine,
    deps: pgDeps(database.pg),
    clock,
    woken: () => wakes,
    exec,
    workspace: () => insertWorkspace(exec),
    nodes(count) {
      return Array.from({ length: count }, () => {
        const pg = openPg(database.url, { max: 10 })
        pools.push(pg)
        return pgDeps(pg)
      })
    },
    async close() {
      for (const pool of pools) await pool.$client.close()
      await database.drop()
    },
  }
}

async function insertWorkspace(exec: EngineFixture['exec']): Promise<string> {
  const id = `ws_${++workspaces}_${Math.random().toString(36).slice(2, 8)}`
  await exec('INSERT INTO workspaces (id, slug, name, created_at) VALUES (?, ?, ?, ?)', id, id, id, 1)
  return id
}
