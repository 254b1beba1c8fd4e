/**
 * Deep pages after erasures: `listContacts` (the service behind GET /contacts) on SQLite with N
 * contacts in two workspaces, one of which then has E contacts erased through the erasure service
 * (spread evenly, plus a run of the newest). First, middle and last page, overall and by source,
 * timed against the same pages of the workspace without erasures.
 * Targets: every median under 10 ms; each erased workspace's page within 2× its untouched twin.
 * Usage: bun test/bench/erasure-pages.ts [contacts] [erased] [runs-per-case]
 */
import { Database } from 'bun:sqlite'
import { join } from 'node:path'
import { openDb } from '../../src/db/client'
import { migrate } from '../../src/db/migrate'
import { eraseContact, listContacts } from '../../src/modules/contacts/service'
import { systemClock } from '../../src/lib/clock'
import { median, percentile, printTable, tempDir } from './lib'

const CONTACTS = Number(process.argv[2] ?? 200_000)
const ERASED = Number(process.argv[3] ?? 1_000)
const RUNS = Number(process.argv[4] ?? 200)
const SOURCES = ['hubspot', 'typeform', 'website', 'zapier']
const LIMIT = 50
/** Of the erased contacts, this many are the newest (a run right above every page's estimate); the rest are spread evenly. */
const NEWEST_RUN = Math.min(100, Math.floor(ERASED / 10))

const dir = tempDir('erasure-pages')
const dbPath = join(dir, 'askad.db')

/** Seeds a workspace's contacts as the service lays them out (dense seq overall and per first source); returns their ids by seq. */
function seed(sqlite: Database, slug: string): { workspaceId: string; ids: string[] } {
  const workspaceId = crypto.randomUUID()
  const now = Date.now()
  sqlite.run('INSERT INTO workspaces (id, slug, name, created_at) VALUES (?, ?, ?, ?)', [workspaceId, slug, slug, now])
  const insert = sqlite.prepare(
    'INSERT INTO contacts (id, workspace_id, seq, source_seq, email, phone, first_name, last_name, first_source, last_source, metadata, lead_count, created_at, updated_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, 0, ?, ?)',
  )
  const perSource = new Map<string, number>()
  const ids: string[] = [''] // ids[seq]
  sqlite.transaction(() => {
    for (let i = 1; i <= CONTACTS; i++) {
      const source = SOURCES[i % SOURCES.length]!
      const sourceSeq = (perSource.get(source) ?? 0) + 1
      perSource.set(source, sourceSeq)
      const id = Bun.randomUUIDv7()
      ids.push(id)
      const t = now - (CONTACTS - i) * 1000
      insert.run(id, workspaceId, i, sourceSeq, `${slug}${i}@example.com`, 'Jane', 'Smith', source, source, '{"plan":"pro"}', t, t)
    }
    sqlite.run("INSERT INTO counters (workspace_id, name, value) VALUES (?, 'contacts', ?)", [workspaceId, CONTACTS])
    for (const [source, n] of perSource)
      sqlite.run('INSERT INTO counters (workspace_id, name, value) VALUES (?, ?, ?)', [workspaceId, `contacts:source:${source}`, n])
  })()
  return { workspaceId, ids }
}

const setup = openDb(dbPath)
migrate(setup)
setup.$client.close()
const sqlite = new Database(dbPath)
sqlite.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF')
let t0 = performance.now()
const plain = seed(sqlite, 'plain')
const erased = seed(sqlite, 'erased')
sqlite.exec('ANALYZE')
sqlite.close()
console.log(`seeded 2 × ${CONTACTS.toLocaleString()} contacts in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

const db = openDb(dbPath)
const deps = { db, clock: systemClock, wake: () => {} }
const victims = new Set<number>()
for (let k = 0; k < NEWEST_RUN; k++) victims.add(CONTACTS - k)
const stride = Math.floor(CONTACTS / (ERASED - NEWEST_RUN))
for (let seq = stride; victims.size < ERASED; seq += stride) victims.add(seq)
t0 = performance.now()
for (const seq of victims) await eraseContact(deps, erased.workspaceId, erased.ids[seq]!)
const eraseMs = performance.now() - t0
console.log(`erased ${victims.size.toLocaleString()} contacts in ${(eraseMs / 1000).toFixed(1)} s (${(eraseMs / victims.size).toFixed(2)} ms each)`)

async function timeCase(workspaceId: string, page: number, source?: string): Promise<{ p50: number; p99: number; total: number; first: string }> {
  const samples: number[] = []
  let last = { total: 0, first: '' }
  for (let i = 0; i < RUNS + 10; i++) {
    const start = performance.now()
    const result = await listContacts(deps, workspaceId, { source }, { page, limit: LIMIT, afterSeq: null })
    if (i >= 10) samples.push(performance.now() - start)
    last = { total: result.pagination.total, first: result.data[0]?.id ?? '' }
  }
  samples.sort((a, b) => a - b)
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), ...last }
}

const remaining = CONTACTS - victims.size
const perSource = CONTACTS / SOURCES.length
const cases: [string, (total: number) => number, string | undefined][] = [
  ['first page', () => 1, undefined],
  ['middle page', (total) => Math.ceil(total / LIMIT / 2), undefined],
  ['last page', (total) => Math.ceil(total / LIMIT), undefined],
  ['source=website, last page', (total) => Math.ceil(total / LIMIT), 'website'],
]
const rows: Record<string, string | number>[] = []
let worst = 0
let worstRatio = 0
for (const [name, pageOf, source] of cases) {
  const p50s: { plain: number[]; erased: number[] } = { plain: [], erased: [] }
  let totals = { plain: 0, erased: 0 }
  // Two interleaved passes; the median of the per-pass medians is reported.
  for (let pass = 0; pass < 2; pass++) {
    const a = await timeCase(plain.workspaceId, pageOf(source ? perSource : CONTACTS), source)
    const erasedTotal = source ? (await listContacts(deps, erased.workspaceId, { source }, { page: 1, limit: 1, afterSeq: null })).pagination.total : remaining
    const b = await timeCase(erased.workspaceId, pageOf(erasedTotal), source)
    p50s.plain.push(a.p50)
    p50s.erased.push(b.p50)
    totals = { plain: a.total, erased: b.total }
  }
  const plainMs = median(p50s.plain)
  const erasedMs = median(p50s.erased)
  worst = Math.max(worst, plainMs, erasedMs)
  worstRatio = Math.max(worstRatio, erasedMs / plainMs)
  rows.push({
    case: name,
    'total plain': totals.plain,
    'total erased': totals.erased,
    'plain ms': plainMs,
    'erased ms': erasedMs,
    'erased / plain': (erasedMs / plainMs).toFixed(2),
  })
}
printTable(
  `pages of ${CONTACTS.toLocaleString()} contacts, ${victims.size.toLocaleString()} erased (${NEWEST_RUN} newest, the rest spread), limit ${LIMIT}, ${RUNS} runs per case`,
  rows,
)
if (remaining !== CONTACTS - ERASED) throw new Error('erased count off')
console.log(`\nworst median ${worst.toFixed(2)} ms (target < 10 ms): ${worst < 10 ? 'met' : 'MISSED'}`)
console.log(`worst erased / plain ${worstRatio.toFixed(2)} (target ≤ 2): ${worstRatio <= 2 ? 'met' : 'MISSED'}`)
db.$client.close()
process.exit(0)
