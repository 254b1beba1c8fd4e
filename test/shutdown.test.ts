/** Graceful shutdown: SIGTERM while 50 slow uploads are in flight lets all of them finish, then exits 0 with a clean database. */
import { afterAll, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey } from '../src/lib/keys'
import { startServer } from './exe'

const ROOT = join(import.meta.dir, '..')
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
  const lateComer = await fetch(`${server.url}/healthz`).then((r) => r.status, () => 'refused')
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
