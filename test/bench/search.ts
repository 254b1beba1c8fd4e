/**
 * Search benchmark: GET /api/v1/contacts?q= with 1,000,000 contacts in one workspace (SQLite),
 * answered in-process by the real app (app.handle, no sockets), for typical queries: a common
 * first-name prefix, a rare one, an exact email, an email prefix, a phone prefix, a full name.
 * Baseline (same run, same app): the plain first page of GET /api/v1/contacts. Reports medians and
 * the ratio to the baseline. Usage: bun test/bench/search.ts [contacts] [requests-per-case]
 */
import { Database } from 'bun:sqlite'
import { join } from 'node:path'
import { createApp } from '../../src/app'
import { loadConfig } from '../../src/config'
import { openDb } from '../../src/db/client'
import { migrate } from '../../src/db/migrate'
import type { AppDeps } from '../../src/deps'
import { systemClock } from '../../src/lib/clock'
import { generateKey, hashKey, keyPrefix } from '../../src/lib/keys'
import { createLogger } from '../../src/lib/logger'
import { createRateLimitStore } from '../../src/lib/rate-limit-store'
import { SCOPES } from '../../src/lib/scopes'
import { median, printTable, tempDir } from './lib'

const COUNT = Number(process.argv[2] ?? 1_000_000)
const REQUESTS = Number(process.argv[3] ?? 100)
const LIMIT = 50

/** Common names repeat (a few percent each), as in a real list; every 997th contact gets a rare first name. */
const FIRST = [
  'James',
  'Mary',
  'John',
  'Patricia',
  'Robert',
  'Jennifer',
  'Michael',
  'Linda',
  'William',
  'Elizabeth',
  'David',
  'Barbara',
  'Richard',
  'Susan',
  'Joseph',
  'Jessica',
  'Thomas',
  'Sarah',
  'Charles',
  'Karen',
  'Christopher',
  'Nancy',
  'Daniel',
  'Lisa',
  'Matthew',
  'Betty',
  'Anthony',
  'Margaret',
  'Mark',
  'Sandra',
]
const LAST = [
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Jones',
  'Garcia',
  'Miller',
  'Davis',
  'Rodriguez',
  'Martinez',
  'Hernandez',
  'Lopez',
  'Gonzalez',
  'Wilson',
  'Anderson',
  'Thomas',
  'Taylor',
  'Moore',
  'Jackson',
  'Martin',
  'Lee',
  'Perez',
  'Thompson',
  'White',
  'Harris',
  'Sanchez',
  'Clark',
  'Ramirez',
  'Lewis',
  'Robinson',
]

const dir = tempDir('search')
const dbPath = join(dir, 'askad.db')

/** Random-looking but reproducible (a 32-bit integer hash of i and salt). */
function pick<T>(list: T[], i: number, salt: number): T {
  let x = Math.imul(i ^ salt, 0x45d9f3b)
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b)
  return list[((x ^ (x >>> 16)) >>> 0) % list.length]!
}

/** Seeds contacts as the service lays them out (dense seq, counters), in bulk; returns the key. */
function seed(): string {
  const db = openDb(dbPath)
  migrate(db)
  db.$client.close()
  const sqlite = new Database(dbPath)
  sqlite.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF')
  const now = Date.now()
  const wsId = crypto.randomUUID()
  sqlite.run('INSERT INTO workspaces (id, slug, name, created_at) VALUES (?, ?, ?, ?)', [wsId, 'big', 'big', now])
  const key = generateKey('secret')
  sqlite.run('INSERT INTO api_keys (id, workspace_id, kind, name, prefix, hash, scopes, allowed_origins, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
    crypto.randomUUID(),
    wsId,
    'secret',
    'bench',
    keyPrefix(key),
    hashKey(key),
    JSON.stringify(SCOPES),
    '[]',
    now,
  ])
  const insert = sqlite.prepare(
    'INSERT INTO contacts (id, workspace_id, seq, source_seq, email, phone, first_name, last_name, first_source, last_source, metadata, lead_count, created_at, updated_at) ' +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'import', 'import', '{}', 1, ?, ?)",
  )
  sqlite.transaction(() => {
    for (let i = 1; i <= COUNT; i++) {
      const first = i % 997 === 0 ? `Zebedee${i}` : pick(FIRST, i, 17)
      const last = pick(LAST, i, 91)
      const phone = `+1${String(2000000000 + ((i * 7919) % 7999999999)).padStart(10, '0')}`
      const t = now - (COUNT - i) * 1000
      insert.run(Bun.randomUUIDv7(), wsId, i, i, `${first.toLowerCase()}.${last.toLowerCase()}${i}@example.com`, phone, first, last, t, t)
    }
    sqlite.run("INSERT INTO counters (workspace_id, name, value) VALUES (?, 'contacts', ?), (?, 'contacts:source:import', ?)", [wsId, COUNT, wsId, COUNT])
  })()
  sqlite.exec('ANALYZE')
  sqlite.close()
  return key
}

const seedStart = performance.now()
const key = seed()
console.log(`seeded ${COUNT.toLocaleString('en')} contacts in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`)

const db = openDb(dbPath)
const config = loadConfig({ db: dbPath }, { ASKAD_RATE_LIMIT: '1000000000', LOG_LEVEL: 'error' })
const logger = createLogger('error', () => {})
const deps: AppDeps = { db, clock: systemClock, config, logger, wake: () => {}, rateLimitStore: createRateLimitStore(config, systemClock, { logger }) }
const app = createApp(deps)

async function timeQuery(query: string): Promise<{ ms: number; total: number; returned: number }> {
  const samples: number[] = []
  let total = 0
  let returned = 0
  for (let i = 0; i < REQUESTS + 5; i++) {
    const t0 = performance.now()
    const res = await app.handle(new Request(`http://localhost/api/v1/contacts?limit=${LIMIT}${query}`, { headers: { authorization: `Bearer ${key}` } }))
    const body = (await res.json()) as { pagination: { total: number }; data: unknown[] }
    if (res.status !== 200) throw new Error(`${query} → ${res.status} ${JSON.stringify(body)}`)
    if (i >= 5) samples.push(performance.now() - t0) // the first 5 warm up
    total = body.pagination.total
    returned = body.data.length
  }
  return { ms: median(samples), total, returned }
}

const rare = 997 * Math.floor(COUNT / 997 / 2)
const rareEmail = `zebedee${rare}.${pick(LAST, rare, 91).toLowerCase()}${rare}@example.com`
const cases: [string, string][] = [
  ['baseline: first page, no search', ''],
  ['common first-name prefix "jo"', '&q=jo'],
  ['common first name "james"', '&q=james'],
  ['common prefix, page 20', '&q=james&page=20'],
  ['rare prefix "zebedee99"', '&q=zebedee99'],
  ['exact email', `&q=${encodeURIComponent(rareEmail)}`],
  ['email prefix "mary.smith1"', '&q=mary.smith1'],
  ['phone prefix "+1 234 56"', `&q=${encodeURIComponent('+1 234 56')}`],
  ['full name "mary smi"', `&q=${encodeURIComponent('mary smi')}`],
  ['no match "qqq"', '&q=qqq'],
]

// Two interleaved passes; the median of the per-pass medians is reported.
const passes: Record<string, number[]> = {}
const seen: Record<string, { total: number; returned: number }> = {}
for (let pass = 0; pass < 2; pass++) {
  for (const [name, query] of cases) {
    const r = await timeQuery(query)
    ;(passes[name] ??= []).push(r.ms)
    seen[name] = r
  }
}
const baseline = median(passes[cases[0]![0]]!)
printTable(
  `search: ${COUNT.toLocaleString('en')} contacts in one workspace, SQLite, in-process, ${REQUESTS} sequential requests per case, limit ${LIMIT}`,
  cases.map(([name]) => ({
    case: name,
    total: seen[name]!.total,
    returned: seen[name]!.returned,
    'median ms': Number(median(passes[name]!).toFixed(2)),
    'vs baseline': (median(passes[name]!) / baseline).toFixed(2),
  })),
)
db.$client.close()
process.exit(0)
