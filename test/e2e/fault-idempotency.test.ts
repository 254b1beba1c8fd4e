/** kill -9 during idempotent POSTs: every Idempotency-Key is absent or complete, so a retry after a crash never duplicates. */
import { afterAll, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { duplicatesIn, faultTarget, killCycle } from '../bench/fault-idempotency'
import { useTestTimeout } from '../timeout'

useTestTimeout()

/** Cycles run until this much time has passed (at least one). */
const BUDGET_MS = 15_000
const CLIENTS = 48

const target = faultTarget()
afterAll(() => rmSync(target.dir, { recursive: true, force: true }))

test('SIGKILL at random moments of 48 concurrent idempotent POSTs, restart, retry every unanswered key', async () => {
  const started = Date.now()
  const rows = []
  for (let cycle = 1; cycle === 1 || Date.now() - started < BUDGET_MS; cycle++) {
    rows.push(await killCycle(target, { clients: CLIENTS, killAfterMs: Math.round(Math.random() * 300), tag: `t${cycle}` }))
  }
  console.log(JSON.stringify(rows.map(({ unanswered, ...r }) => ({ ...r, unanswered: unanswered.length }))))
  // The kills really landed mid-load, with requests still unanswered.
  expect(rows.reduce((n, r) => n + r.unanswered.length, 0)).toBeGreaterThan(0)
  // At every kill, each key was absent or complete; after the restart no key is stuck in flight and every retry is answered.
  expect(rows.map((r) => r.incompleteKeys)).toEqual(rows.map(() => 0))
  expect(rows.map((r) => r.retry409 + r.retryOther)).toEqual(rows.map(() => 0))
  // One lead and one lead.created per key, whatever the retries did.
  const dup = duplicatesIn(target.dbPath)
  expect(dup.leads).toBe(0)
  expect(dup.events).toBe(0)
  expect(dup.keys).toBe(rows.reduce((n, r) => n + r.answered + r.retryCreated + r.retryReplayed, 0))
}, 60_000)
