/**
 * Rate limits exact across nodes: separate processes sharing one store let exactly the capacity
 * through, at the store (PostgreSQL and Redis) and over HTTP (3 `askad serve` on one SQLite file
 * sharing Redis). And a Redis outage fails open: requests still pass, and it is logged.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer, type RunningServer } from '../exe'
import { skipUnlessPg, testDatabase } from '../pg'
import { skipUnlessRedis, startRedis } from '../redis'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')
const NODES = 3
const CAPACITY = 100
/** A long window: one token per 36 s, so none comes back while a test runs and "exactly 100" is exact. */
const WINDOW_MS = 3_600_000
/** Time for every node to start and connect before the common start moment. */
const START_DELAY_MS = 1_500

const dir = mkdtempSync(join(tmpdir(), 'askad-ratelimit-cluster-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs `takesPerNode` takes on one bucket in each of NODES processes at once; the allowed counts per node. */
async function takeAcrossProcesses(kind: 'postgres' | 'redis', url: string, takesPerNode: number): Promise<number[]> {
  const startAt = Date.now() + START_DELAY_MS
  const bucket = `cluster-${kind}-${process.pid}`
  const procs = Array.from({ length: NODES }, () =>
    Bun.spawn([process.execPath, 'test/e2e/limiter-takes.ts', kind, url, bucket, String(CAPACITY), String(WINDOW_MS), String(takesPerNode), String(startAt)], {
      cwd: ROOT,
      stdout: 'pipe',
      stderr: 'pipe',
    }),
  )
  return await Promise.all(
    procs.map(async (proc) => {
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
      expect(code, err).toBe(0)
      return (JSON.parse(out) as { allowed: number }).allowed
    }),
  )
}

test.skipIf(skipUnlessPg('cross-process PostgreSQL limiter'))(
  `${NODES} processes, 600 takes on one PostgreSQL bucket of ${CAPACITY}: exactly ${CAPACITY} allowed`,
  async () => {
    const database = await testDatabase()
    try {
      const allowed = await takeAcrossProcesses('postgres', database.url, 600 / NODES)
      expect(allowed.reduce((a, b) => a + b)).toBe(CAPACITY)
      // All of them raced: no node got every token, which would mean the takes never overlapped.
      expect(allowed.filter((n) => n > 0).length).toBeGreaterThan(1)
    } finally {
      await database.drop()
    }
  },
  60_000,
)

describe.skipIf(skipUnlessRedis('cross-process Redis limiter'))('Redis shared by several processes', () => {
  test(`${NODES} processes, 600 takes on one Redis bucket of ${CAPACITY}: exactly ${CAPACITY} allowed`, async () => {
    const redis = await startRedis()
    try {
      const allowed = await takeAcrossProcesses('redis', redis.url, 600 / NODES)
      expect(allowed.reduce((a, b) => a + b)).toBe(CAPACITY)
      expect(allowed.filter((n) => n > 0).length).toBeGreaterThan(1)
    } finally {
      await redis.stop()
    }
  }, 60_000)

  /** A key made by `askad key generate`, created on first start as the bootstrap key. */
  function generatedKey(): string {
    const run = Bun.spawnSync([process.execPath, 'src/index.ts', 'key', 'generate'], { cwd: ROOT })
    return run.stdout
      .toString()
      .trim()
      .split(/\s+/)
      .find((word) => word.startsWith('ask_'))!
  }

  /** NODES × `askad serve` on one SQLite file, all sharing `redisUrl`; the first one alone creates the database and the key. */
  async function startNodes(dbPath: string, redisUrl: string, key: string): Promise<RunningServer[]> {
    const env = { ASKAD_DB: dbPath, ASKAD_REDIS_URL: redisUrl, ASKAD_RATE_LIMIT: `${CAPACITY}/${WINDOW_MS / 1000}s`, ASKAD_BOOTSTRAP_KEY: key }
    const first = await startServer([process.execPath, 'src/index.ts', 'serve'], { cwd: ROOT, env })
    const rest = await Promise.all(Array.from({ length: NODES - 1 }, () => startServer([process.execPath, 'src/index.ts', 'serve'], { cwd: ROOT, env })))
    return [first, ...rest]
  }

  test(`HTTP: ${NODES} askad nodes sharing Redis, 300 requests on one key across them: exactly ${CAPACITY} × 2xx, 200 × 429`, async () => {
    const redis = await startRedis()
    const key = generatedKey()
    const nodes = await startNodes(join(dir, 'http.db'), redis.url, key)
    try {
      const responses = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          fetch(`${nodes[i % NODES]!.url}/api/v1/leads?limit=1`, { headers: { authorization: `Bearer ${key}` } }).then(async (res) => {
            await res.arrayBuffer()
            return res.status
          }),
        ),
      )
      expect(responses.filter((s) => s >= 200 && s < 300).length).toBe(CAPACITY)
      expect(responses.filter((s) => s === 429).length).toBe(300 - CAPACITY)
      for (const node of nodes) expect(node.output()).toContain('"rate_limit_store":"redis"')
    } finally {
      await Promise.all(nodes.map((node) => node.stop()))
      await redis.stop()
    }
  }, 90_000)

  test('Redis going down mid-run: requests keep succeeding (fail open), and the failure is logged', async () => {
    const redis = await startRedis()
    const key = generatedKey()
    const env = { ASKAD_DB: join(dir, 'fail-open.db'), ASKAD_REDIS_URL: redis.url, ASKAD_BOOTSTRAP_KEY: key }
    const node = await startServer([process.execPath, 'src/index.ts', 'serve'], { cwd: ROOT, env })
    const get = () => fetch(`${node.url}/api/v1/leads?limit=1`, { headers: { authorization: `Bearer ${key}` } })
    try {
      expect((await get()).status).toBe(200)
      expect(node.output()).not.toContain('rate-limit store failed')
      await redis.stop()
      const statuses: number[] = []
      const outageStarted = Date.now()
      for (let i = 0; i < 20; i++) statuses.push((await get()).status)
      expect(statuses).toEqual(Array(20).fill(200))
      // Only the first check waits for the store to fail; the rest go straight to memory.
      expect(Date.now() - outageStarted).toBeLessThan(5_000)
      await node.waitFor(/"level":"error","msg":"rate-limit store failed[^\n]*"store":"redis"/)
      // Rate-limited log: one line for the whole burst.
      expect(node.output().match(/rate-limit store failed/g)).toHaveLength(1)
      const metrics = await (await fetch(`${node.url}/metrics`)).text()
      // Every check since the outage was answered from memory.
      expect(metrics).toContain('askad_rate_limit_store_fallbacks_total{store="redis"} 20')
    } finally {
      await node.stop()
      await redis.stop()
    }
  }, 60_000)
})
