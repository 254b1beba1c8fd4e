/**
 * Test harness: a real app on a real database, with helpers to mint workspaces and keys and to read
 * stored rows (`rows`, alike on both engines). The engine is SQLite (a file in a temp folder) unless
 * ASKAD_TEST_ENGINE=postgres, which runs the same suite on a fresh PostgreSQL database (test/pg.ts).
 */
import { expect } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app'
import { loadConfig } from '../src/config'
import { openDb, type Db } from '../src/db/client'
import { openPg, type PgDb } from '../src/db/pg/client'
import { migrate } from '../src/db/migrate'
import { emitEvent, type EventType } from '../src/db/outbox'
import { emitEventPg, writePg } from '../src/db/pg/unit-of-work'
import { writeTx } from '../src/db/tx'
import type { AppDeps } from '../src/deps'
import type { Clock } from '../src/lib/clock'
import { createLogger, type Logger } from '../src/lib/logger'
import { createRateLimitStore, type RateLimitStoreHandle } from '../src/lib/rate-limit-store'
import { createKey, type CreateKeyInput } from '../src/modules/api-keys/service'
import { createWorkspace } from '../src/modules/workspaces/service'
import { pgRows, sqliteRows, type Rows } from './rows'
import { cloneMigratedDatabaseSync } from './pg'

/** The engine the suite runs on: one switch for the whole API suite (CI runs it on both). */
export const TEST_ENGINE: 'sqlite' | 'postgres' = process.env.ASKAD_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite'

export interface TestClock {
  now(): number
  advance(ms: number): void
  set(ms: number): void
}

export function testClock(start = Date.parse('2026-11-01T12:00:00Z')): TestClock {
  let now = start
  return { now: () => now, advance: (ms) => void (now += ms), set: (ms) => void (now = ms) }
}

export interface Harness {
  app: ReturnType<typeof createApp>
  engine: typeof TEST_ENGINE
  /** Stored rows, alike on both engines. */
  rows: Rows
  db: Db
  deps: AppDeps
  dir: string
  dbPath: string
  logs: string[]
  clock: TestClock
  /** A workspace with an all-scopes secret key. */
  workspace(slug?: string, keyInput?: Partial<CreateKeyInput>): Promise<{ id: string; slug: string; key: string; keyId: string }>
  /** Another key in an existing workspace. */
  key(workspaceId: string, input?: Partial<CreateKeyInput>): Promise<{ key: string; id: string }>
  request(method: string, path: string, init?: { key?: string; body?: unknown; headers?: Record<string, string>; rawBody?: BodyInit }): Promise<Response>
  /** Records an event in the outbox in its own transaction, as a service would (without waking the dispatcher). */
  emit(workspaceId: string, type: EventType, data?: Record<string, unknown>): Promise<{ eventId: string; queued: number }>
  /** POST /api/v1/leads/inbound, expecting 201. */
  pushLead(key: string, body: Record<string, unknown>): Promise<{ id: string; contact_id: string }>
  close(): Promise<void>
}

/**
 * The harness's database: a SQLite file in `dir`, or (ASKAD_TEST_ENGINE=postgres) a fresh migrated
 * PostgreSQL database, whose URL then stands where the file path would (`dbPath`, the config's db).
 * There is no SQLite `db` on PostgreSQL: a service that still touched it would fail loudly.
 */
function openTestStorage(dir: string, engine: typeof TEST_ENGINE): { db: Db; pg?: PgDb; dbPath: string; close(): Promise<void> } {
  if (engine === 'postgres') {
    const database = cloneMigratedDatabaseSync()
    const pg = openPg(database.url, { max: 10 })
    return {
      db: undefined as unknown as Db,
      pg,
      dbPath: database.url,
      async close() {
        await pg.$client.close()
        await database.drop()
      },
    }
  }
  const dbPath = join(dir, 'askad.db')
  const db = openDb(dbPath)
  migrate(db)
  return { db, dbPath, close: async () => db.$client.close() }
}

let slugCounter = 0

/** `rateLimitStore` replaces the store `serve` would choose from the env (e.g. PostgreSQL for a SQLite-backed app). */
export function createHarness(
  options: {
    env?: Record<string, string>
    rateLimitStore?: (clock: Clock, logger: Logger) => RateLimitStoreHandle
    /** Overrides ASKAD_TEST_ENGINE, for tests about one engine's own behaviour. */
    engine?: typeof TEST_ENGINE
  } = {},
): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'askad-test-'))
  const engine = options.engine ?? TEST_ENGINE
  const storage = openTestStorage(dir, engine)
  const { db, dbPath } = storage
  const logs: string[] = []
  const clock = testClock()
  const config = loadConfig({ db: dbPath }, { LOG_LEVEL: 'info', ...options.env })
  const logger = createLogger('info', (line) => logs.push(line))
  // Selected like `serve` does: memory for these SQLite files unless the env names a shared store.
  const rateLimitStore = options.rateLimitStore?.(clock, logger) ?? createRateLimitStore(config, clock, { logger })
  const deps: AppDeps = { db, pg: storage.pg, clock, config, logger, wake: () => {}, rateLimitStore }
  const app = createApp(deps)

  const key = async (workspaceId: string, input: Partial<CreateKeyInput> = {}) => {
    const created = await createKey(deps, { workspaceId, kind: 'secret', ...input })
    return { key: created.key, id: created.record.id }
  }
  const request: Harness['request'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers }
    if (init.key) headers.authorization = `Bearer ${init.key}`
    let body: BodyInit | undefined = init.rawBody
    if (init.body !== undefined) {
      body = JSON.stringify(init.body)
      headers['content-type'] ??= 'application/json'
    }
    const response = await app.handle(new Request(`http://localhost${path}`, { method, headers, body }))
    // Let onAfterResponse (the access log) run before the test inspects logs.
    await new Promise((resolve) => setImmediate(resolve))
    return response
  }

  return {
    app,
    engine,
    rows: storage.pg ? pgRows(storage.pg) : sqliteRows(db),
    db,
    deps,
    dir,
    dbPath,
    logs,
    clock,
    async workspace(slug = `ws-${++slugCounter}`, keyInput = {}) {
      const ws = await createWorkspace(deps, { slug })
      const k = await key(ws.id, keyInput)
      return { id: ws.id, slug: ws.slug, key: k.key, keyId: k.id }
    },
    key,
    request,
    async emit(workspaceId, type, data = {}) {
      const { pg } = deps
      if (pg) return writePg({ pg, wake: () => {} }, (tx) => emitEventPg(tx, clock.now(), workspaceId, type, data))
      return writeTx(db, (tx) => emitEvent(tx, clock.now(), workspaceId, type, data))
    },
    async pushLead(key, body) {
      const res = await request('POST', '/api/v1/leads/inbound', { key, body })
      expect(res.status).toBe(201)
      return (await res.json()) as { id: string; contact_id: string }
    },
    async close() {
      // The folder goes at once: a caller that does not await close may end the process before the rest.
      rmSync(dir, { recursive: true, force: true })
      await rateLimitStore.close()
      await storage.close()
    },
  }
}

/** Asserts a problem-details answer with this status; with `paths`, the set of failing paths (TypeBox may report one path twice). */
export async function expectProblem(res: Response, status: number, paths?: string[]) {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  const body = await res.json()
  expect(body.status).toBe(status)
  if (paths) expect([...new Set(body.errors.map((e: { path: string }) => e.path))]).toEqual(paths)
  return body
}
