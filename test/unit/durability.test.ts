/** Durability `full` when the WAL cannot be synced: fail-stop; and a database without a WAL syncs through SQLite itself. */
import { afterEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb, type Db } from '../../src/db/client'
import { durable, syncCommits, syncFailure } from '../../src/db/durability'
import { commitAlone, groupCommit } from '../../src/db/group-commit'
import { storageProblem, writeProbe } from '../../src/db/storage'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const dir = mkdtempSync(join(tmpdir(), 'askad-durability-'))
let db: Db
afterEach(() => {
  db.$client.close()
  rmSync(dir, { recursive: true, force: true })
})

const rows = () => db.$client.query<{ n: number }, []>('SELECT count(*) AS n FROM t').get()!.n
const insert = () => void db.$client.run('INSERT INTO t VALUES (1)')

test('a failed WAL sync answers its writer 503 and stops every later write before it commits, /healthz included', async () => {
  const path = join(dir, 'a.db')
  db = openDb(path)
  db.$client.exec('CREATE TABLE t (x)')
  syncCommits(db)
  // SQLite keeps writing to its own open WAL; the sync, opening it by name, finds nothing: an I/O failure as a dying disk would give.
  unlinkSync(`${path}-wal`)
  const first = await commitAlone(db, insert).catch((error) => error)
  expect(storageProblem(first)?.cause).toBe('io')
  // The first commit stands (the caller was told it may not have); nothing after it commits.
  expect(rows()).toBe(1)
  expect(syncFailure(db)).toBe(first)
  const later = await Promise.all([commitAlone(db, insert), groupCommit(db, insert), durable(db)!].map((attempt) => attempt.catch((error) => error)))
  for (const error of later) expect(storageProblem(error)?.cause).toBe('io')
  expect(rows()).toBe(1)
  const probe = writeProbe(db)
  expect(probe.writable).toBe(false)
  if (!probe.writable) expect(probe.problem.cause).toBe('io')
})

test('without a WAL (journal_mode=DELETE) SQLite syncs each commit itself and no sync of ours is waited for', () => {
  db = openDb(join(dir, 'b.db'))
  db.$client.exec('PRAGMA journal_mode = DELETE')
  syncCommits(db)
  expect(db.$client.query<{ synchronous: number }, []>('PRAGMA synchronous').get()!.synchronous).toBe(2)
  expect(durable(db)).toBeNull()
})
