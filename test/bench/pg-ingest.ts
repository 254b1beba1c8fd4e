/**
 * The PostgreSQL ingest path at the service level (no HTTP): createLead from 1 or 3 pools (as nodes)
 * with a closed loop of concurrent callers, into 1 workspace (every lead queues on the same counter
 * rows) or 10. Prints leads/s and latency; the statement count per lead is in leads/store.pg.ts.
 * Usage: bun test/bench/pg-ingest.ts [seconds-per-run] [rounds]   (needs initdb/pg_ctl or ASKAD_TEST_PG)
 */
import { openPg } from '../../src/db/pg/client'
import type { Db } from '../../src/db/client'
import { createLogger } from '../../src/lib/logger'
import { systemClock } from '../../src/lib/clock'
import { createLead, type LeadDeps } from '../../src/modules/leads/service'
import { migratedTestDatabase, pgAvailable, stopTestPg } from '../pg'
import { median, percentile, printTable } from './lib'

const SECONDS = Number(process.argv[2] ?? 5)
const ROUNDS = Number(process.argv[3] ?? 3)
const CONCURRENCY_PER_NODE = 16
const POOL_PER_NODE = 10

if (!pgAvailable()) {
  console.error('SKIPPED: no PostgreSQL (install postgresql or set ASKAD_TEST_PG)')
  process.exit(0)
}

const database = await migratedTestDatabase()
const workspaces = Array.from({ length: 10 }, (_, i) => `bench-ws-${i}`)
for (const id of workspaces) await database.pg.$client`INSERT INTO workspaces (id, slug, name, created_at) VALUES (${id}, ${id}, ${id}, 1)`
// One subscribed endpoint per workspace, as a real install has: every lead also queues a delivery.
for (const id of workspaces)
  await database.pg
    .$client`INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, created_at, updated_at) VALUES (${`ep-${id}`}, ${id}, 'http://127.0.0.1:1/', '[]', 's', 1, 1)`

const pools = Array.from({ length: 3 }, () => openPg(database.url, { max: POOL_PER_NODE }))
const logger = createLogger('warn')
const nodeDeps = pools.map((pg): LeadDeps => ({ db: undefined as unknown as Db, pg, clock: systemClock, wake() {}, logger }))

let n = 0
async function run(nodes: number, workspaceCount: number) {
  const latencies: number[] = []
  let errors = 0
  const deadline = performance.now() + SECONDS * 1000
  const started = performance.now()
  const worker = async (deps: LeadDeps) => {
    while (performance.now() < deadline) {
      const i = n++
      const t0 = performance.now()
      try {
        // Half new people, half returning ones: both contact paths run.
        await createLead(deps, workspaces[i % workspaceCount]!, 'inbound', {
          email: `p${i % 2 ? i : i % 1000}@example.com`,
          phone: '+1234567890',
          source: `s${i % 3}`,
          metadata: { i },
        })
      } catch (error) {
        errors++
        if (errors === 1) console.error(error)
      }
      latencies.push(performance.now() - t0)
    }
  }
  await Promise.all(nodeDeps.slice(0, nodes).flatMap((deps) => Array.from({ length: CONCURRENCY_PER_NODE }, () => worker(deps))))
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return { rate: latencies.length / elapsed, errors, p50: percentile(latencies, 50), p99: percentile(latencies, 99) }
}

const setups = [
  { nodes: 1, workspaces: 1 },
  { nodes: 3, workspaces: 1 },
  { nodes: 1, workspaces: 10 },
  { nodes: 3, workspaces: 10 },
]
await run(3, 10)
const results = new Map(setups.map((s) => [s, [] as Awaited<ReturnType<typeof run>>[]]))
for (let round = 0; round < ROUNDS; round++) for (const setup of setups) results.get(setup)!.push(await run(setup.nodes, setup.workspaces))

printTable(
  `PostgreSQL createLead, ${SECONDS} s × ${ROUNDS} rounds, ${CONCURRENCY_PER_NODE} callers per node (medians)`,
  setups.map((s) => {
    const r = results.get(s)!
    return {
      nodes: s.nodes,
      workspaces: s.workspaces,
      'leads/s': Math.round(median(r.map((x) => x.rate))),
      'p50 ms': median(r.map((x) => x.p50)),
      'p99 ms': median(r.map((x) => x.p99)),
      errors: r.reduce((sum, x) => sum + x.errors, 0),
    }
  }),
)
for (const pool of pools) await pool.$client.close()
await database.drop()
stopTestPg()
