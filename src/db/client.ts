/** Opens the SQLite database with the pragmas askad relies on and wraps it in drizzle. */
import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { drizzle, type BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite'
import * as schema from './schema'

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database }

/** Milliseconds a writer waits for another process's lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000
/**
 * Page cache per connection, in KiB. SQLite's default (2 MiB) stops holding the contact and
 * lead indexes after a few ten thousand rows, and every insert then re-reads index pages.
 */
const CACHE_KIB = 64 * 1024
/**
 * Switching a brand-new file to WAL needs a moment alone with it, and SQLite answers SQLITE_BUSY
 * at once (no busy_timeout wait) when another process is opening it too: retry for this long.
 */
const WAL_SWITCH_TIMEOUT_MS = 5_000
const WAL_SWITCH_RETRY_MS = 10

/** Opens (creating folder and file if needed) a database in WAL mode with foreign keys on. */
export function openDb(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const sqlite = new Database(path, { create: true, strict: true })
  sqlite.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
  if (path !== ':memory:') enableWal(sqlite)
  sqlite.exec('PRAGMA synchronous = NORMAL')
  sqlite.exec('PRAGMA foreign_keys = ON')
  sqlite.exec(`PRAGMA cache_size = -${CACHE_KIB}`)
  // Statement sub-journals, sorts and temp tables stay in memory: on disk each would be a temp
  // file created and deleted per use, which is costly next to the small writes askad makes.
  sqlite.exec('PRAGMA temp_store = MEMORY')
  return drizzle({ client: sqlite, schema }) as Db
}

function enableWal(sqlite: Database): void {
  const deadline = Date.now() + WAL_SWITCH_TIMEOUT_MS
  for (;;) {
    try {
      const mode = sqlite.query<{ journal_mode: string }, []>('PRAGMA journal_mode = WAL').get()?.journal_mode
      if (mode === 'wal' || Date.now() > deadline) return
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw error
    }
    Bun.sleepSync(WAL_SWITCH_RETRY_MS)
  }
}
