/**
 * Fan-out cost on ingest: POST /leads/inbound latency for a workspace with N webhook endpoints
 * (every lead queues N deliveries in its own transaction), next to a workspace with none.
 * In-process app, no dispatcher (only the write is measured), sequential requests.
 * Usage: bun test/bench/webhook-fanout.ts [endpoints] [leads]
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createApp } from '../../src/app'
import { loadConfig } from '../../src/config'
import { openDb } from '../../src/db/client'
import { migrate } from '../../src/db/migrate'
import type { AppDeps } from '../../src/deps'
import { systemClock } from '../../src/lib/clock'
import { createLogger } from '../../src/lib/logger'
import { createKey } from '../../src/modules/api-keys/service'
import { createEndpoint } from '../../src/modules/webhooks/service'
import { createWorkspace } from '../../src/modules/workspaces/service'
import { percentile, printTable, tempDir } from './lib'

const ENDPOINTS = Number(process.argv[2] ?? 20)
const LEADS = Number(process.argv[3] ?? 500)

const dir = tempDir('fanout')
const db = openDb(join(dir, 'askad.db'))
migrate(db)
// The limit raised to the count asked for, so larger fan-outs can be measured too.
const config = loadConfig({}, { ASKAD_WEBHOOK_MAX_ENDPOINTS: String(Math.max(1, ENDPOINTS)), ASKAD_RATE_LIMIT: '1000000/60s' })
const deps: AppDeps = { db, config, clock: systemClock, logger: createLogger('error'), wake: () => {}, resolveHost: async () => ['93.184.216.34'] }
const app = createApp(deps)

async function leadLatencies(endpoints: number): Promise<number[]> {
  const ws = await createWorkspace(deps, { slug: `fanout-${endpoints}` })
  const { key } = await createKey(deps, { workspaceId: ws.id, kind: 'secret' })
  for (let i = 0; i < endpoints; i++) await createEndpoint(deps, ws.id, { url: `https://hooks.example.com/${i}` })
  const latencies: number[] = []
  for (let i = 0; i < LEADS; i++) {
    const started = performance.now()
    const res = await app.handle(
      new Request('http://localhost/api/v1/leads/inbound', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: `lead-${endpoints}-${i}@example.com`, source: 'bench' }),
      }),
    )
    if (res.status !== 201) throw new Error(`lead ${i}: ${res.status} ${await res.text()}`)
    latencies.push(performance.now() - started)
  }
  return latencies.sort((a, b) => a - b)
}

const rows = []
for (const endpoints of [0, ENDPOINTS]) {
  const latencies = await leadLatencies(endpoints)
  rows.push({ endpoints, leads: LEADS, 'p50 ms': percentile(latencies, 50), 'p99 ms': percentile(latencies, 99) })
}
printTable('POST /leads/inbound with webhook fan-out', rows)
db.$client.close()
rmSync(dir, { recursive: true, force: true })
