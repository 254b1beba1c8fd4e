/**
 * Storage trouble is the operator's, not a bug (SPEC §10): another process holding the write lock, a
 * read-only or full database. Reads and /healthz keep answering, writes get 503 + Retry-After, health
 * tells the truth, and a database the server cannot write is a refusal to start.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { chmodSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { percentile } from '../bench/lib'
import { holdWriteLock, sample, startLockTarget, type LockTarget } from '../bench/lock-hold'
import { createHarness, expectProblem } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')
const dirs: string[] = []
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

describe('another process holds the write lock', () => {
  let target: LockTarget
  test('reads and /healthz answer fast, a write gets 503 + Retry-After within the bound, and writes work again afterwards', async () => {
    target = await startLockTarget()
    dirs.push(target.dir)
    try {
      const lock = holdWriteLock(target.dbPath)
      const writeStarted = performance.now()
      const write = target.pushLead('locked@example.com').then(async (res) => ({ res, ms: performance.now() - writeStarted, body: await res.json() }))
      const health = sample(`${target.url}/healthz`, {}, 3_000)
      const reads = sample(`${target.url}/api/v1/leads`, { authorization: `Bearer ${target.key}` }, 3_000)
      const [h, r, w] = await Promise.all([health, reads, write])
      const afterLock = await fetch(`${target.url}/healthz`)
      const healthBody = await afterLock.json()
      lock.release()

      expect(percentile(h.latencies, 99)).toBeLessThan(200)
      expect(percentile(r.latencies, 99)).toBeLessThan(200)
      expect(r.statuses.every((s) => s === 200)).toBe(true)
      expect(w.res.status).toBe(503)
      expect(w.res.headers.get('content-type')).toBe('application/problem+json')
      expect(Number(w.res.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(w.body.detail).toMatch(/lock/i)
      expect(w.ms).toBeLessThan(4_000)
      // While writes cannot get the lock, health says so (a load balancer takes the node out).
      expect(afterLock.status).toBe(503)
      expect(healthBody.database.writable).toBe(false)
      expect(healthBody.dispatcher).toMatchObject({ running: true, in_flight: 0 })

      const again = await target.pushLead('after@example.com')
      expect(again.status).toBe(201)
      expect((await fetch(`${target.url}/healthz`)).status).toBe(200)
    } finally {
      await target.server.stop()
    }
  }, 30_000)
})

describe('a database the server cannot write', () => {
  for (const [what, folderMode] of [
    ['read-only file in a writable folder', 0o777],
    ['read-only file in a read-only folder', 0o755],
  ] as const)
    test(`refuses to start with a clear message and exit code ≠ 0 (${what}, running as an unprivileged user)`, async () => {
      const target = await startLockTarget()
      dirs.push(target.dir)
      await target.server.stop()
      // Root ignores file modes, so the server runs as nobody.
      chmodSync(target.dir, folderMode)
      chmodSync(target.dbPath, 0o444)
      rmSync(`${target.dbPath}-wal`, { force: true })
      rmSync(`${target.dbPath}-shm`, { force: true })
      const proc = Bun.spawn(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(ROOT, 'src', 'index.ts'), 'serve'], {
        cwd: target.dir,
        env: { PATH: process.env.PATH ?? '', HOME: '/tmp', PORT: '0', HOST: '127.0.0.1', ASKAD_DB: target.dbPath },
        stdout: 'pipe',
        stderr: 'pipe',
      })
      const timer = setTimeout(() => proc.kill('SIGKILL'), 8_000)
      const code = await proc.exited
      clearTimeout(timer)
      const stderr = await new Response(proc.stderr).text()
      const stdout = await new Response(proc.stdout).text()
      expect(stdout).not.toContain('listening on')
      expect(code).not.toBe(0)
      expect(code).not.toBeNull()
      expect(stderr).toMatch(/read-only/)
      expect(stderr).toContain(target.dbPath)
    }, 20_000)
})

describe('storage errors at run time are 503 problems, and health reports them', () => {
  const h = createHarness()
  afterAll(() => h.close())

  test('read-only (PRAGMA query_only): 503 + Retry-After, /healthz 503, both recover', async () => {
    const ws = await h.workspace()
    h.db.$client.exec('PRAGMA query_only = 1')
    try {
      const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'ro@example.com' } })
      const body = await expectProblem(res, 503)
      expect(body.detail).toMatch(/read-only/)
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
      const health = await h.request('GET', '/healthz')
      expect(health.status).toBe(503)
      expect((await health.json()).database).toMatchObject({ writable: false })
      // Reads still work.
      expect((await h.request('GET', '/api/v1/leads', { key: ws.key })).status).toBe(200)
    } finally {
      h.db.$client.exec('PRAGMA query_only = 0')
    }
    expect((await h.request('GET', '/healthz')).status).toBe(200)
    expect((await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'ro@example.com' } })).status).toBe(201)
  })

  test('disk full (PRAGMA max_page_count): 503 + Retry-After naming the disk, /healthz 503 until a write succeeds', async () => {
    const ws = await h.workspace()
    const pages = h.db.$client.query<{ page_count: number }, []>('PRAGMA page_count').get()!.page_count
    h.db.$client.exec(`PRAGMA max_page_count = ${pages}`)
    let full: Response | undefined
    try {
      // Each lead needs new pages sooner or later.
      for (let i = 0; i < 200 && !full; i++) {
        const res = await h.request('POST', '/api/v1/leads/inbound', {
          key: ws.key,
          body: { email: `full${i}@example.com`, metadata: { pad: 'x'.repeat(2000) } },
        })
        if (res.status !== 201) full = res
      }
      expect(full).toBeDefined()
      const body = await expectProblem(full!, 503)
      expect(body.detail).toMatch(/full/)
      expect(Number(full!.headers.get('retry-after'))).toBeGreaterThan(0)
      expect((await h.request('GET', '/healthz')).status).toBe(503)
    } finally {
      h.db.$client.exec('PRAGMA max_page_count = 1073741823')
    }
    expect((await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'roomy@example.com' } })).status).toBe(201)
    expect((await h.request('GET', '/healthz')).status).toBe(200)
  })
})
