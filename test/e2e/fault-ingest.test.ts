/** kill -9 during ingest on the real executable: acknowledged leads survive exactly once, counters hold, retries do not duplicate. */
import { afterAll, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { ingestDb, killCycle } from '../bench/fault-ingest'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const target = ingestDb()
afterAll(() => rmSync(target.dir, { recursive: true, force: true }))

test('SIGKILL in the middle of 400 concurrent inbound leads, then a restart on the same database', async () => {
  const result = await killCycle(target, { requests: 400, killAfter: 150, tag: 'suite' })
  console.log(JSON.stringify({ ...result, retriedInFlight: result.retriedInFlight.length }))
  // The kill really landed mid-load: some leads were acknowledged, some were not.
  expect(result.ackedBeforeKill).toBeGreaterThanOrEqual(150)
  expect(result.ackedBeforeKill).toBeLessThan(400)
  expect(result.refused + result.retriedOther).toBe(0)
  // Every acknowledged lead, plus every retry that answered 201, and nothing else (killCycle has checked ids, duplicates, counters, integrity).
  expect(result.leadsInDb).toBeGreaterThanOrEqual(result.ackedBeforeKill + result.retriedCreated + result.retriedReplayed)
  expect(result.leadsInDb).toBeLessThanOrEqual(result.ackedBeforeKill + result.retriedCreated + result.retriedReplayed + result.retriedInFlight.length)
}, 90_000)
