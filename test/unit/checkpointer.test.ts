/** The checkpoint thread copies WAL frames into the database file after commits; when it cannot run, SQLite's own checkpoints come back. */
import { afterEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCheckpointer, type Checkpointer } from '../../src/db/checkpointer'
import { openDb, type Db } from '../../src/db/client'
import { writeTx } from '../../src/db/tx'
import { createLogger } from '../../src/lib/logger'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const dir = mkdtempSync(join(tmpdir(), 'askad-checkpointer-'))
const logs: string[] = []
const logger = createLogger('info', (line) => logs.push(line))
let db: Db
let checkpointer: Checkpointer | undefined
afterEach(async () => {
  await checkpointer?.stop()
  db.$client.close()
  rmSync(dir, { recursive: true, force: true })
})

const autocheckpoint = () => db.$client.query<{ wal_autocheckpoint: number }, []>('PRAGMA wal_autocheckpoint').get()!.wal_autocheckpoint

async function until(done: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!done() && Date.now() < deadline) await Bun.sleep(20)
}

test('frames committed through writeTx reach the database file without the serving connection checkpointing', async () => {
  const path = join(dir, 'a.db')
  db = openDb(path)
  db.$client.exec('CREATE TABLE filler (x BLOB)')
  checkpointer = startCheckpointer(db, path, logger)
  await until(() => autocheckpoint() !== 1_000)
  // The serving connection now checkpoints only past thousands of pages: ~300 pages stay in the WAL unless the thread copies them.
  expect(autocheckpoint()).toBeGreaterThan(1_000)
  const before = statSync(path).size
  for (let i = 0; i < 30; i++) writeTx(db, () => db.$client.query('INSERT INTO filler VALUES (randomblob(40000))').run())
  await until(() => statSync(path).size > before + 1_000_000)
  expect(statSync(path).size).toBeGreaterThan(before + 1_000_000)
})

test('a thread that cannot open the database hands checkpoints back to SQLite, with a warning', async () => {
  db = openDb(join(dir, 'b.db'))
  db.$client.exec('PRAGMA wal_autocheckpoint = 4000')
  checkpointer = startCheckpointer(db, join(dir, 'missing', 'b.db'), logger)
  await until(() => autocheckpoint() === 1_000)
  expect(autocheckpoint()).toBe(1_000)
  expect(logs.join('\n')).toContain('checkpoint thread failed')
})
