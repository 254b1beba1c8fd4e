/**
 * Import benchmark: 100,000 CSV rows through POST /api/v1/contacts/import, answered in-process by
 * the real app (app.handle) on a SQLite file, each run into a fresh workspace (every row a new
 * contact), plus one run of the same file again (every row merged into a known contact).
 * Baselines in the same run and process: (a) the same rows through POST /api/v1/leads/inbound, 64
 * requests in flight (group commit, the ingest path); (b) a raw bun:sqlite INSERT loop of the same
 * contact and lead rows in one transaction, no look-ups (a floor). Reports medians.
 * Usage: bun test/bench/import.ts [rows] [runs]
 */
import { join } from 'node:path'
import { createApp } from '../../src/app'
import { loadConfig } from '../../src/config'
import { openDb } from '../../src/db/client'
import { migrate } from '../../src/db/migrate'
import type { AppDeps } from '../../src/deps'
import { systemClock } from '../../src/lib/clock'
import { createLogger } from '../../src/lib/logger'
import { createRateLimitStore } from '../../src/lib/rate-limit-store'
import { createKey } from '../../src/modules/api-keys/service'
import { createWorkspace } from '../../src/modules/workspaces/service'
import { median, printTable, tempDir } from './lib'

const ROWS = Number(process.argv[2] ?? 100_000)
const RUNS = Number(process.argv[3] ?? 3)
const INBOUND_CONCURRENCY = 64

const dir = tempDir('import')
const dbPath = join(dir, 'askad.db')
const db = openDb(dbPath)
migrate(db)
const config = loadConfig({ db: dbPath }, { ASKAD_RATE_LIMIT: '1000000000', LOG_LEVEL: 'error' })
const logger = createLogger('error', () => {})
const deps: AppDeps = { db, clock: systemClock, config, logger, wake: () => {}, rateLimitStore: createRateLimitStore(config, systemClock, { logger }) }
const app = createApp(deps)

const people = Array.from({ length: ROWS }, (_, i) => ({
  email: `person${i}@example.com`,
  first_name: `First${i % 977}`,
  last_name: `Last${i % 1013}`,
  phone: `+1 555 ${String(i).padStart(7, '0')}`,
  plan: i % 3 ? 'pro' : 'free',
}))
const csv = `email,first_name,last_name,phone,plan\r\n${people.map((p) => `${p.email},${p.first_name},${p.last_name},${p.phone},${p.plan}`).join('\r\n')}\r\n`

let workspaces = 0
async function freshWorkspace(): Promise<{ id: string; key: string }> {
  const ws = await createWorkspace(deps, { slug: `bench-${++workspaces}` })
  return { id: ws.id, key: (await createKey(deps, { workspaceId: ws.id, kind: 'secret' })).key }
}

async function timeImport(key: string): Promise<number> {
  const t0 = performance.now()
  const res = await app.handle(
    new Request('http://localhost/api/v1/contacts/import', {
      method: 'POST',
      body: csv,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
    }),
  )
  const report = (await res.json()) as { imported: number }
  if (res.status !== 200 || report.imported !== ROWS) throw new Error(`import → ${res.status} ${JSON.stringify(report).slice(0, 300)}`)
  return performance.now() - t0
}

async function timeInbound(key: string): Promise<number> {
  const t0 = performance.now()
  let next = 0
  const worker = async () => {
    while (next < ROWS) {
      const { plan, ...person } = people[next++]!
      const res = await app.handle(
        new Request('http://localhost/api/v1/leads/inbound', {
          method: 'POST',
          body: JSON.stringify({ ...person, source: 'import', metadata: { plan } }),
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        }),
      )
      if (res.status !== 201) throw new Error(`inbound → ${res.status} ${await res.text()}`)
      await res.arrayBuffer()
    }
  }
  await Promise.all(Array.from({ length: INBOUND_CONCURRENCY }, worker))
  return performance.now() - t0
}

/** The same rows as raw INSERTs (contact and lead per row) in one transaction: no look-ups, no validation. */
function timeRawInserts(workspaceId: string): number {
  const sqlite = db.$client
  const contact = sqlite.prepare(
    'INSERT INTO contacts (id, workspace_id, seq, source_seq, email, phone, first_name, last_name, first_source, last_source, metadata, lead_count, created_at, updated_at) ' +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'raw', 'raw', ?, 1, ?, ?)",
  )
  const lead = sqlite.prepare(
    'INSERT INTO leads (id, workspace_id, contact_id, seq, source_seq, channel, source, email, phone, first_name, last_name, metadata, status, created_at) ' +
      "VALUES (?, ?, ?, ?, ?, 'import', 'raw', ?, ?, ?, ?, ?, 'new', ?)",
  )
  const t0 = performance.now()
  sqlite.transaction(() => {
    const now = Date.now()
    for (const [i, p] of people.entries()) {
      const contactId = Bun.randomUUIDv7()
      const metadata = JSON.stringify({ plan: p.plan })
      const phone = `+${p.phone.replace(/\D/g, '')}`
      contact.run(contactId, workspaceId, i + 1, i + 1, p.email, phone, p.first_name, p.last_name, metadata, now, now)
      lead.run(Bun.randomUUIDv7(), workspaceId, contactId, i + 1, i + 1, p.email, phone, p.first_name, p.last_name, metadata, now)
    }
  })()
  return performance.now() - t0
}

const results: Record<string, number[]> = {
  import: [],
  'import again (all merged)': [],
  'baseline: POST /leads/inbound ×64': [],
  'baseline: raw INSERT loop': [],
}
for (let run = 0; run < RUNS; run++) {
  const ws = await freshWorkspace()
  results.import!.push(await timeImport(ws.key))
  if (run === 0) results['import again (all merged)']!.push(await timeImport(ws.key))
  results['baseline: raw INSERT loop']!.push(timeRawInserts((await freshWorkspace()).id))
}
results['baseline: POST /leads/inbound ×64']!.push(await timeInbound((await freshWorkspace()).key))

const importMedian = median(results.import!)
printTable(
  `import: ${ROWS.toLocaleString('en')} rows (${(csv.length / 1024 / 1024).toFixed(1)} MiB CSV), SQLite file, in-process; import ${RUNS} runs, the rest as noted`,
  Object.entries(results).map(([name, samples]) => ({
    case: name,
    runs: samples.length,
    'median s': Number((median(samples) / 1000).toFixed(2)),
    'rows/s': Math.round(ROWS / (median(samples) / 1000)),
    'import ÷ this': (importMedian / median(samples)).toFixed(2),
  })),
)
db.$client.close()
process.exit(0)
