/**
 * Store contract tests run the same bodies on both engines: `describeEngines(name, body)` gives each
 * body a fixture on a fresh SQLite file and on a fresh PostgreSQL database (skipped loudly without
 * one, see test/pg.ts). Assertions read rows back with plain SQL both engines understand.
 */
import { afterAll, beforeAll, describe } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb, type Db } from '../src/db/client'
import { migrate } from '../src/db/migrate'
import { openPg, type PgDb } from '../src/db/pg/client'
import { createLogger } from '../src/lib/logger'
import type { LeadDeps } from '../src/modules/leads/service'
import { testClock, type TestClock } from './helpers'
import { migratedTestDatabase, skipUnlessPg } from './pg'

export const ENGINES = ['sqlite', 'postgres'] as const
export type Engine = (typeof ENGINES)[number]

export interface EngineFixture {
  engine: Engine
  deps: LeadDeps
  clock: TestClock
  logs: string[]
  /** Times the dispatcher was woken. */
  woken(): number
  /** A new workspace's id. */
  workspace(): Promise<string>
  /** An enabled webhook endpoint of the workspace subscribed to `events` (all when empty); its id. */
  endpoint(workspaceId: string, events?: string[]): Promise<string>
  /** Rows of a read-only query (write integers with CAST(… AS integer): PostgreSQL returns bigint as text). */
  rows<T = Record<string, unknown>>(query: string): Promise<T[]>
  /** PostgreSQL only: deps of `count` more nodes (pools of their own on the same database), as a cluster has. */
  nodes(count: number): LeadDeps[]
}

let counter = 0

function baseDeps(clock: TestClock, logs: string[], wake: () => void) {
  return { clock, wake, logger: createLogger('info', (line) => logs.push(line)) }
}

async function sqliteFixture(): Promise<EngineFixture & { close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'askad-store-'))
  const db = openDb(join(dir, 'askad.db'))
  migrate(db)
  const clock = testClock()
  const logs: string[] = []
  let woken = 0
  const deps: LeadDeps = { db, ...baseDeps(clock, logs, () => woken++) }
  const run = (query: string) => db.$client.query(query).all()
  return {
    engine: 'sqlite',
    deps,
    clock,
    logs,
    woken: () => woken,
    async workspace() {
      const id = `ws-${++counter}`
      run(`INSERT INTO workspaces (id, slug, name, created_at) VALUES ('${id}', '${id}', '${id}', 1)`)
      return id
    },
    async endpoint(workspaceId, events = []) {
      const id = `ep-${++counter}`
      run(
        `INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, created_at, updated_at) VALUES ('${id}', '${workspaceId}', 'http://127.0.0.1:1/', '${JSON.stringify(events)}', 's', 1, 1)`,
      )
      return id
    },
    async rows<T>(query: string) {
      return run(query) as T[]
    },
    nodes() {
      throw new Error('several nodes are a PostgreSQL setup')
    },
    async close() {
      db.$client.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function postgresFixture(): Promise<EngineFixture & { close(): Promise<void> }> {
  const database = await migratedTestDatabase()
  const clock = testClock()
  const logs: string[] = []
  let woken = 0
  const pools: PgDb[] = []
  // A PostgreSQL node has no SQLite database: a store that touched deps.db would fail here.
  const nodeDeps = (pg: PgDb): LeadDeps => ({ db: undefined as unknown as Db, pg, ...baseDeps(clock, logs, () => woken++) })
  const run = (query: string) => database.pg.$client.unsafe(query)
  return {
    engine: 'postgres',
    deps: nodeDeps(database.pg),
    clock,
    logs,
    woken: () => woken,
    async workspace() {
      const id = `ws-${++counter}`
      await run(`INSERT INTO workspaces (id, slug, name, created_at) VALUES ('${id}', '${id}', '${id}', 1)`)
      return id
    },
    async endpoint(workspaceId, events = []) {
      const id = `ep-${++counter}`
      await run(
        `INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, created_at, updated_at) VALUES ('${id}', '${workspaceId}', 'http://127.0.0.1:1/', '${JSON.stringify(events)}', 's', 1, 1)`,
      )
      return id
    },
    async rows<T>(query: string) {
      return [...(await run(query))] as T[]
    },
    nodes(count) {
      return Array.from({ length: count }, () => {
        const pg = openPg(database.url, { max: 10 })
        pools.push(pg)
        return nodeDeps(pg)
      })
    },
    async close() {
      for (const pool of pools) await pool.$client.close()
      await database.drop()
    },
  }
}

/** Runs `body` once per engine (or on the ones given), each in its own describe block with a fresh database. */
export function describeEngines(name: string, body: (fixture: () => EngineFixture) => void, engines: readonly Engine[] = ENGINES): void {
  for (const engine of engines) {
    const skip = engine === 'postgres' && skipUnlessPg(`${name} on PostgreSQL`)
    describe.skipIf(skip)(`${name} (${engine})`, () => {
      let fixture: (EngineFixture & { close(): Promise<void> }) | undefined
      beforeAll(async () => {
        fixture = engine === 'sqlite' ? await sqliteFixture() : await postgresFixture()
      })
      afterAll(() => fixture?.close())
      body(() => fixture!)
    })
  }
}
