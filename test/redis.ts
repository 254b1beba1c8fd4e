/**
 * A throwaway Redis server for tests and benchmarks: the machine's `redis-server` (.ci/run installs it) on a free
 * 127.0.0.1 port in a temp folder, no persistence; `stop()` ends it by PID and deletes the folder
 * (also on process exit). Where the binary is missing, callers skip loudly (`skipUnlessRedis`).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const REDIS_SERVER = Bun.which('redis-server') ?? '/usr/bin/redis-server'
const START_TIMEOUT_MS = 5_000

export interface TestRedis {
  url: string
  port: number
  /** Stops the server (SIGKILL by PID, as an outage would) and deletes its folder; safe to call twice. */
  stop(): Promise<void>
}

/** True when `redis-server` is installed. */
export function redisAvailable(): boolean {
  return existsSync(REDIS_SERVER)
}

/** Prints why a Redis test is skipped; returns whether it must skip. */
export function skipUnlessRedis(what: string): boolean {
  if (redisAvailable()) return false
  console.warn(`SKIPPED ${what}: no ${REDIS_SERVER} (apt-get install -y redis-server)`)
  return true
}

function freePort(): number {
  const server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = server.port
  server.stop(true)
  return port
}

/** Starts a private Redis and waits until it answers PING. */
export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'askad-redis-'))
  const port = freePort()
  const proc = Bun.spawn(
    [REDIS_SERVER, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
    { stdout: 'ignore', stderr: 'inherit' },
  )
  const cleanup = () => {
    proc.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  process.on('exit', cleanup)
  const url = `redis://127.0.0.1:${port}`
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    const client = new Bun.RedisClient(url, { connectionTimeout: 500, autoReconnect: false })
    try {
      if ((await client.send('PING', [])) === 'PONG') break
    } catch (error) {
      if (Date.now() > deadline) {
        cleanup()
        throw new Error(`redis-server did not answer on ${url}: ${error}`)
      }
      await Bun.sleep(50)
    } finally {
      client.close()
    }
  }
  return {
    url,
    port,
    async stop() {
      proc.kill('SIGKILL')
      await proc.exited
      rmSync(dir, { recursive: true, force: true })
      process.off('exit', cleanup)
    },
  }
}
