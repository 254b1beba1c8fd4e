/** The database, its WAL/SHM files and backups are readable by their owner only (0600). */
import { afterEach, expect, test } from 'bun:test'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { backup } from '../../src/cli/backup'
import { openDb } from '../../src/db/client'
import { migrate } from '../../src/db/migrate'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8)
const quiet = { json: true, result: () => {} }
let dir: string
afterEach(() => rmSync(dir, { recursive: true, force: true }))

test('a new database and its -wal and -shm files are created 0600, and so is a backup', () => {
  dir = mkdtempSync(join(tmpdir(), 'askad-modes-'))
  const path = join(dir, 'data', 'askad.db')
  const db = openDb(path)
  migrate(db)
  expect([mode(path), mode(`${path}-wal`), mode(`${path}-shm`)]).toEqual(['600', '600', '600'])
  backup(db, quiet, join(dir, 'backups', 'copy.db'))
  expect(mode(join(dir, 'backups', 'copy.db'))).toBe('600')
  db.$client.close()
})

test('an existing database readable by others is tightened to 0600 when opened', () => {
  dir = mkdtempSync(join(tmpdir(), 'askad-modes-'))
  const path = join(dir, 'askad.db')
  // An earlier version's files: a connection keeps -wal and -shm in place while they are made world-readable.
  const earlier = openDb(path)
  migrate(earlier)
  for (const file of [path, `${path}-wal`, `${path}-shm`]) chmodSync(file, 0o644)
  const db = openDb(path)
  expect([mode(path), mode(`${path}-wal`), mode(`${path}-shm`)]).toEqual(['600', '600', '600'])
  db.$client.close()
  earlier.$client.close()
})

test('through a symlink (ASKAD_DB=/srv/askad.db → a volume), the real file and its -wal and -shm are created 0600', () => {
  dir = mkdtempSync(join(tmpdir(), 'askad-modes-'))
  const volume = join(dir, 'volume')
  mkdirSync(volume)
  const link = join(dir, 'askad.db')
  // The link comes first, its target does not exist yet (a fresh install on a mounted volume).
  symlinkSync(join(volume, 'askad.db'), link)
  const db = openDb(link)
  migrate(db)
  const real = join(volume, 'askad.db')
  expect([mode(real), mode(`${real}-wal`), mode(`${real}-shm`)]).toEqual(['600', '600', '600'])
  db.$client.close()
})
