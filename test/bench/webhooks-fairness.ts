/**
 * Webhook fairness benchmark: tenant A has endpoints that hang and a backlog; tenant B has one fast
 * endpoint and sends an event every 50 ms. Prints B's send → arrival latency, which should stay
 * near the receiver's own latency whatever A does (the red team measured 0.05 s → 28.5 s).
 * In-process dispatcher, real receivers on 127.0.0.1, real attempt timeout unless given.
 * Usage: bun test/bench/webhooks-fairness.ts [hanging endpoints] [backlog events] [attempt timeout ms]
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../src/config'
import { openDb } from '../../src/db/client'
import { migrate } from '../../src/db/migrate'
import { writeTx } from '../../src/db/tx'
import type { AppDeps } from '../../src/deps'
import { systemClock } from '../../src/lib/clock'
import { createLogger } from '../../src/lib/logger'
import { createEndpoint } from '../../src/modules/webhooks/service'
import { emitEvent } from '../../src/db/outbox'
import { createWorkspace } from '../../src/modules/workspaces/service'
import { startDispatcher } from '../../src/workers/dispatcher'
import { ATTEMPT_TIMEOUT_MS } from '../../src/workers/send-attempt'
import { percentile, printTable, tempDir } from './lib'

const HANGING_ENDPOINTS = Number(process.argv[2] ?? 5)
const BACKLOG_EVENTS = Number(process.argv[3] ?? 100)
const ATTEMPT_TIMEOUT = Number(process.argv[4] ?? ATTEMPT_TIMEOUT_MS)
/** How long a hanging receiver holds each request: longer than the attempt timeout, as in the report (20 s). */
const HANG_MS = Math.max(20_000, ATTEMPT_TIMEOUT + 1_000)
const HEALTHY_EVENTS = 20
const HEALTHY_INTERVAL_MS = 50

const dir = tempDir('fairness')
const db = openDb(join(dir, 'askad.db'))
migrate(db)
const config = loadConfig({}, { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' })
const deps: AppDeps = { db, config, clock: systemClock, logger: createLogger('error'), wake: () => dispatcher.wake() }
const dispatcher = startDispatcher(deps, { attemptTimeoutMs: ATTEMPT_TIMEOUT })

const servers: ReturnType<typeof Bun.serve>[] = []
function receiver(answer: (request: Request) => Promise<Response> | Response): string {
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', idleTimeout: 0, fetch: answer })
  servers.push(server)
  return `http://127.0.0.1:${server.port}`
}

const stuck = await createWorkspace({ db, clock: systemClock }, { slug: 'stuck' })
const healthy = await createWorkspace({ db, clock: systemClock }, { slug: 'healthy' })
for (let i = 0; i < HANGING_ENDPOINTS; i++) {
  await createEndpoint(deps, stuck.id, { url: receiver(() => Bun.sleep(HANG_MS).then(() => new Response(null, { status: 204 }))) })
}
/** Healthy event number → when it arrived (performance.now()). */
const arrivals = new Map<number, number>()
const healthyUrl = receiver(async (request: Request) => {
  const at = performance.now()
  const body = (await request.json()) as { data: { i: number } }
  arrivals.set(body.data.i, at)
  return new Response(null, { status: 204 })
})
await createEndpoint(deps, healthy.id, { url: healthyUrl })

const emit = (workspaceId: string, i: number) => {
  writeTx(db, (tx) => emitEvent(tx, systemClock.now(), workspaceId, 'lead.created', { i }))
  dispatcher.wake()
}
for (let i = 0; i < BACKLOG_EVENTS; i++) emit(stuck.id, i)
await Bun.sleep(200)

const sentAt: number[] = []
for (let i = 0; i < HEALTHY_EVENTS; i++) {
  sentAt.push(performance.now())
  emit(healthy.id, i)
  await Bun.sleep(HEALTHY_INTERVAL_MS)
}
const deadline = performance.now() + ATTEMPT_TIMEOUT * 4 + 10_000
while (arrivals.size < HEALTHY_EVENTS && performance.now() < deadline) await Bun.sleep(10)

const latencies = [...arrivals].map(([i, at]) => at - sentAt[i]!).sort((a, b) => a - b)
printTable('Healthy tenant next to a hanging one', [
  {
    'hanging endpoints': HANGING_ENDPOINTS,
    'backlog deliveries': BACKLOG_EVENTS * HANGING_ENDPOINTS,
    'attempt timeout ms': ATTEMPT_TIMEOUT,
    'healthy delivered': `${arrivals.size}/${HEALTHY_EVENTS}`,
    'healthy p50 ms': percentile(latencies, 50),
    'healthy p99 ms': percentile(latencies, 99),
  },
])
servers.forEach((s) => s.stop(true))
db.$client.close()
rmSync(dir, { recursive: true, force: true })
process.exit(0)
