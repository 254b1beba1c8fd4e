/** Group commit: jobs of one event-loop turn share a transaction; a failing job fails alone; a held lock is waited for asynchronously. */
import { afterAll, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { groupCommit, WRITE_LOCK_WAIT_MS } from '../../src/db/group-commit'
import { workspaces } from '../../src/db/schema'
import { createHarness, TEST_ENGINE } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())

/** Group commit is how SQLite's single writer is shared; PostgreSQL runs each unit of work in its own transaction. */
const sqliteTest = test.skipIf(TEST_ENGINE === 'postgres')

const insertWorkspace = (slug: string) =>
  groupCommit(h.db, (tx) => {
    tx.insert(workspaces).values({ id: crypto.randomUUID(), slug, name: slug, createdAt: 0 }).run()
    return slug
  })

const slugs = () =>
  h.db
    .select({ slug: workspaces.slug })
    .from(workspaces)
    .all()
    .map((w) => w.slug)

sqliteTest('jobs queued in one turn commit together, in order, each resolving with its result', async () => {
  const changesBefore = h.db.$client.query('select total_changes() as n').get() as { n: number }
  const results = await Promise.all(['gc-a', 'gc-b', 'gc-c'].map(insertWorkspace))
  expect(results).toEqual(['gc-a', 'gc-b', 'gc-c'])
  expect(slugs()).toEqual(expect.arrayContaining(['gc-a', 'gc-b', 'gc-c']))
  expect((h.db.$client.query('select total_changes() as n').get() as { n: number }).n - changesBefore.n).toBe(3)
})

sqliteTest('a job that throws rejects alone: its writes are gone, its neighbours are stored', async () => {
  const failing = groupCommit(h.db, (tx) => {
    tx.insert(workspaces).values({ id: crypto.randomUUID(), slug: 'gc-partial', name: 'x', createdAt: 0 }).run()
    // Same slug as an existing workspace: UNIQUE constraint, after a write of its own.
    tx.insert(workspaces).values({ id: crypto.randomUUID(), slug: 'gc-a', name: 'dup', createdAt: 0 }).run()
  })
  const [before, after] = [insertWorkspace('gc-before'), insertWorkspace('gc-after')]
  await expect(failing).rejects.toThrow(/UNIQUE/)
  expect(await before).toBe('gc-before')
  expect(await after).toBe('gc-after')
  const stored = slugs()
  expect(stored).toContain('gc-before')
  expect(stored).toContain('gc-after')
  expect(stored).not.toContain('gc-partial')
})

sqliteTest('a lone job still commits (after one tick)', async () => {
  expect(await insertWorkspace('gc-alone')).toBe('gc-alone')
  expect(slugs()).toContain('gc-alone')
})

sqliteTest("another process's write lock is waited for without blocking the event loop; the job commits once it is released", async () => {
  const other = new Database(h.dbPath)
  other.exec('BEGIN IMMEDIATE')
  let ticks = 0
  const ticker = setInterval(() => ticks++, 10)
  const started = performance.now()
  const job = insertWorkspace('gc-after-lock')
  await Bun.sleep(500)
  other.exec('ROLLBACK')
  other.close()
  expect(await job).toBe('gc-after-lock')
  clearInterval(ticker)
  // A synchronous busy wait would have frozen the timers for the whole 500 ms.
  expect(ticks).toBeGreaterThan(20)
  expect(performance.now() - started).toBeLessThan(WRITE_LOCK_WAIT_MS)
  expect(slugs()).toContain('gc-after-lock')
})

sqliteTest(
  'a job that cannot get the lock within WRITE_LOCK_WAIT_MS is rejected with SQLITE_BUSY (a 503 for its request)',
  async () => {
    const other = new Database(h.dbPath)
    other.exec('BEGIN IMMEDIATE')
    try {
      const started = performance.now()
      const error = await insertWorkspace('gc-never').catch((e: unknown) => e)
      expect((error as { code?: string }).code).toBe('SQLITE_BUSY')
      expect(performance.now() - started).toBeGreaterThanOrEqual(WRITE_LOCK_WAIT_MS)
      expect(performance.now() - started).toBeLessThan(WRITE_LOCK_WAIT_MS + 1_000)
    } finally {
      other.exec('ROLLBACK')
      other.close()
    }
    expect(slugs()).not.toContain('gc-never')
    expect(await insertWorkspace('gc-lock-free-again')).toBe('gc-lock-free-again')
  },
  10_000,
)
