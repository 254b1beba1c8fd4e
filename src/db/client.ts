/** Opens the SQLite database with the pragmas askad relies on and wraps it in drizzle. */
import { Database } from 'bun:sqlite'
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readlinkSync, type Stats } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { drizzle, type BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite'
import * as schema from './schema'

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database }
/** A write transaction of the database, as drizzle hands it to a transaction's callback. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]
/** Queries that run alike on the database and inside a transaction take either. */
export type DbOrTx = Db | Tx

/**
 * Milliseconds a statement waits for another process's lock before SQLITE_BUSY. bun:sqlite waits
 * synchronously, so a server must keep this short: a long wait would freeze every request. Group
 * commits retry asynchronously instead (group-commit.ts); the CLI, which serves no one, waits longer.
 */
export const SERVER_BUSY_TIMEOUT_MS = 20
/** The CLI's and start-up's wait for the lock (migrations, bootstrap): nothing else is waiting on them. */
export const CLI_BUSY_TIMEOUT_MS = 5_000
/**
 * Page cache per connection, in KiB. SQLite's default (2 MiB) stops holding the contact and
 * lead indexes after a few ten thousand rows, and every insert then re-reads index pages. It is
 * most of what a busy server holds beyond its JS heap: after 60k leads under load RSS was 189 MB
 * with 64 MiB, 146 MB with 32 MiB and 128 MB with 16 MiB, at the same ingest rate, and the
 * saturated webhook benchmark (200 attempts in flight) held 158 MB with 32 MiB, 137 MB with 16 MiB.
 * Pages it no longer holds come from the OS's file cache.
 */
const CACHE_KIB = 16 * 1024
/**
 * Switching a brand-new file to WAL needs a moment alone with it, and SQLite answers SQLITE_BUSY
 * at once (no busy_timeout wait) when another process is opening it too: retry for this long.
 */
const WAL_SWITCH_TIMEOUT_MS = 5_000
const WAL_SWITCH_RETRY_MS = 10

/** Owner read/write only: the database holds leads, key hashes and webhook secrets. */
export const DB_FILE_MODE = 0o600
/** Files SQLite keeps beside the database in WAL mode. */
const SIDE_FILES = ['-wal', '-shm']

/**
 * Creates `path` empty with DB_FILE_MODE if it does not exist, and takes group and world access away
 * from an existing one; SQLite then creates the -wal and -shm files with the database's mode.
 */
export function restrictFile(path: string): void {
  if (existsSync(path)) return tighten(path)
  try {
    closeSync(openSync(path, 'wx', DB_FILE_MODE))
  } catch (error) {
    // Another process starting at the same moment created it first (seen: 1 of 8 at once): use theirs.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    tighten(path)
  }
}

/** chmod to DB_FILE_MODE; a file of another owner that we may still write (group access) is left as its owner set it. */
function tighten(path: string): void {
  try {
    chmodSync(path, DB_FILE_MODE)
  } catch (error) {
    // ENOENT: a side file another process removed as its last connection closed (seen: 8 migrating at once).
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'EPERM' && code !== 'ENOENT') throw error
  }
}

/**
 * Opens (creating folder and file if needed) a database in WAL mode with foreign keys on, readable by
 * its owner only. With `synchronous: 'FULL'` every commit is fsynced (the CLI's `full` durability; a
 * server syncs its commits off the event loop instead, see durability.ts).
 */
export function openDb(given: string, options: { busyTimeoutMs?: number; synchronous?: 'NORMAL' | 'FULL' } = {}): Db {
  const path = given === ':memory:' ? given : followLinks(given)
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true })
    restrictFile(path)
    // Side files left by an earlier version (or a crash) keep their own mode; SQLite reuses them.
    for (const suffix of SIDE_FILES) if (existsSync(path + suffix)) tighten(path + suffix)
  }
  const sqlite = new Database(path, { create: true, strict: true })
  setBusyTimeout(sqlite, options.busyTimeoutMs ?? SERVER_BUSY_TIMEOUT_MS)
  if (path !== ':memory:') enableWal(sqlite)
  sqlite.exec(`PRAGMA synchronous = ${options.synchronous ?? 'NORMAL'}`)
  sqlite.exec('PRAGMA foreign_keys = ON')
  // Space freed inside pages that are written anyway is zeroed (no extra I/O): an updated contact's
  // older copy does not linger in its page, so an erasure (which turns this ON) leaves nothing behind.
  sqlite.exec('PRAGMA secure_delete = FAST')
  sqlite.exec(`PRAGMA cache_size = -${CACHE_KIB}`)
  // Statement sub-journals, sorts and temp tables stay in memory: on disk each would be a temp
  // file created and deleted per use, which is costly next to the small writes askad makes.
  sqlite.exec('PRAGMA temp_store = MEMORY')
  return drizzle({ client: sqlite, schema }) as Db
}

/** Most symlinks followed to the database file (a loop of links is an error, as for the OS). */
const MAX_LINKS = 16

/**
 * The file a path names once symlinks are followed, even when it does not exist yet: SQLite keeps the
 * database and its -wal and -shm files at the link's target, so that is where they are created and
 * kept 0600 (a link to a fresh volume used to get 0644 files, the chmod aimed at names beside the link).
 */
function followLinks(path: string): string {
  let current = resolve(path)
  for (let hops = 0; hops < MAX_LINKS; hops++) {
    let stat: Stats
    try {
      stat = lstatSync(current)
    } catch {
      return current
    }
    if (!stat.isSymbolicLink()) return current
    current = resolve(dirname(current), readlinkSync(current))
  }
  throw new Error(`Too many symbolic links starting at ${path}`)
}

/** Sets how long statements wait for another process's lock. */
export function setBusyTimeout(sqlite: Database, ms: number): void {
  sqlite.exec(`PRAGMA busy_timeout = ${ms}`)
}

/** Runs fn with no wait for another process's lock (SQLITE_BUSY at once), for callers that retry or probe without blocking. */
export function withoutBusyWait<T>(sqlite: Database, fn: () => T): T {
  const { timeout } = sqlite.query<{ timeout: number }, []>('PRAGMA busy_timeout').get()!
  if (timeout === 0) return fn()
  setBusyTimeout(sqlite, 0)
  try {
    return fn()
  } finally {
    setBusyTimeout(sqlite, timeout)
  }
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
