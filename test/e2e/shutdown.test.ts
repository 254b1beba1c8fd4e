/**
 * Graceful shutdown: SIGTERM while 50 slow uploads are in flight lets all of them finish, then exits 0 with a clean database;
 * a receiver that never answers holds the exit for a bounded time only, and its delivery resumes at once after a restart.
 */
import { afterAll, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { startServer } from '../exe'
import { startReceiver, until } from '../webhooks-helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')
const SLOW_REQUESTS = 50
/** Each body trickles in over CHUNKS × CHUNK_INTERVAL_MS, so every request is still uploading when SIGTERM arrives. */
const CHUNKS = 15
const CHUNK_INTERVAL_MS = 100

const dir = mkdtempSync(join(tmpdir(), 'askad-shutdown-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A lead whose JSON body is sent a few bytes at a time; `started` resolves once the first bytes have gone out. */
function slowLead(url: string, key: string, i: number) {
  const json = JSON.stringify({ email: `slow-${i}@example.com`, source: 'shutdown-test', metadata: { pad: 'x'.repeat(CHUNKS * 20) } })
  const size = Math.ceil(json.length / CHUNKS)
  const encoder = new TextEncoder()
  let sent = 0
  let markStarted!: () => void
  const started = new Promise<void>((resolve) => (markStarted = resolve))
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent > 0) await Bun.sleep(CHUNK_INTERVAL_MS)
      controller.enqueue(encoder.encode(json.slice(sent * size, (sent + 1) * size)))
      sent++
      if (sent === 2) markStarted()
      if (sent * size >= json.length) controller.close()
    },
  })
  const response = fetch(`${url}/api/v1/leads/inbound`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
    duplex: 'half',
  } as RequestInit).then(async (res) => ({ status: res.status, body: await res.text(), at: performance.now() }))
  return { started, response }
}

test('SIGTERM with 50 slow requests in flight: all complete with 2xx, exit code 0, database intact', async () => {
  const dbPath = join(dir, 'askad.db')
  const key = generateKey('secret')
  const server = await startServer([process.execPath, 'src/index.ts', 'serve', '--db', dbPath], {
    cwd: ROOT,
    env: { ASKAD_BOOTSTRAP_KEY: key, ASKAD_RATE_LIMIT: '100000/60s', LOG_LEVEL: 'warn' },
  })

  const requests = Array.from({ length: SLOW_REQUESTS }, (_, i) => slowLead(server.url, key, i))
  await Promise.all(requests.map((r) => r.started))
  // Give the server a moment to have read every request's headers before the signal.
  await Bun.sleep(150)
  const signalledAt = performance.now()
  server.proc.kill('SIGTERM')

  // While draining, the server no longer accepts connections.
  await Bun.sleep(100)
  const lateComer = await fetch(`${server.url}/healthz`).then(
    (r) => r.status,
    () => 'refused',
  )
  expect(lateComer).toBe('refused')

  const results = await Promise.all(requests.map((r) => r.response))
  for (const result of results) {
    expect(result.status, result.body).toBe(201)
    // Finished after the signal: the request really was in flight when shutdown began.
    expect(result.at).toBeGreaterThan(signalledAt)
  }
  expect(await server.proc.exited).toBe(0)
  expect(server.output()).not.toContain('"level":"error"')

  // Closed cleanly: the WAL was checkpointed and removed, and the file is consistent.
  expect(existsSync(`${dbPath}-wal`)).toBe(false)
  const db = new Database(dbPath, { readonly: true })
  try {
    expect(db.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
    expect(db.query("select count(*) as n from leads where source = 'shutdown-test'").get()).toEqual({ n: SLOW_REQUESTS })
  } finally {
    db.close()
  }
}, 30_000)

/** The dispatcher's bound on in-flight attempts at shutdown (5 s), plus start-up noise of a loaded machine. */
const MAX_EXIT_MS = 6_500

/**
 * A server on its own database with one endpoint whose receiver never answers its first request
 * (later ones get 204), and a lead whose first attempt is under way; `start` starts the server again.
 */
async function withHangingAttempt(name: string) {
  const dbPath = join(dir, `${name}.db`)
  const key = generateKey('secret')
  const rx = startReceiver((_req, index) => (index === 0 ? new Promise<Response>(() => {}) : new Response(null, { status: 204 })))
  const start = () =>
    startServer([process.execPath, 'src/index.ts', 'serve', '--db', dbPath], {
      cwd: ROOT,
      env: { ASKAD_BOOTSTRAP_KEY: key, ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', LOG_LEVEL: 'warn' },
    })
  const call = (url: string, path: string, body: unknown) =>
    fetch(`${url}/api/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  try {
    const first = await start()
    expect((await call(first.url, '/webhooks', { url: `${rx.url}/hook`, events: ['lead.created'] })).status).toBe(201)
    expect((await call(first.url, '/leads/inbound', { email: `${name}@example.com` })).status).toBe(201)
    await until(() => rx.requests.length === 1, 5_000, 'the first attempt')
    return { rx, first, start }
  } catch (error) {
    rx.stop()
    throw error
  }
}

test('SIGTERM while a receiver hangs: exit 0 within the attempt grace; after a restart the delivery is re-sent at once, same webhook-id', async () => {
  const { rx, first, start } = await withHangingAttempt('hang')
  try {
    const signalledAt = performance.now()
    first.proc.kill('SIGTERM')
    expect(await first.proc.exited).toBe(0)
    expect(performance.now() - signalledAt).toBeLessThan(MAX_EXIT_MS)

    const restartedAt = performance.now()
    const second = await start()
    try {
      await until(() => rx.requests.length === 2, 5_000, 'the re-sent attempt')
      expect(rx.requests[1]!.at - restartedAt).toBeLessThan(5_000)
      expect(rx.requests[1]!.headers['webhook-id']).toBe(rx.requests[0]!.headers['webhook-id'])
      await Bun.sleep(300)
      expect(rx.requests).toHaveLength(2)
    } finally {
      expect(await second.stop()).toBe(0)
    }
  } finally {
    rx.stop()
  }
}, 40_000)

test('a second SIGTERM cuts the attempt grace short: exit 0 at once, and the delivery is re-sent after a restart', async () => {
  const { rx, first, start } = await withHangingAttempt('impatient')
  try {
    const signalledAt = performance.now()
    first.proc.kill('SIGTERM')
    await Bun.sleep(200)
    first.proc.kill('SIGTERM')
    expect(await first.proc.exited).toBe(0)
    // Well inside the 5 s grace a single signal waits.
    expect(performance.now() - signalledAt).toBeLessThan(2_500)

    const second = await start()
    try {
      await until(() => rx.requests.length === 2, 5_000, 'the re-sent attempt')
      expect(rx.requests[1]!.headers['webhook-id']).toBe(rx.requests[0]!.headers['webhook-id'])
    } finally {
      expect(await second.stop()).toBe(0)
    }
  } finally {
    rx.stop()
  }
}, 40_000)
