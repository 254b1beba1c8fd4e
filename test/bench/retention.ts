/**
 * Retention: a real `askad serve` with a short ASKAD_RETENTION_DAYS takes leads at a steady rate,
 * each delivered to a receiver on 127.0.0.1; prints the database size over time, split into webhook
 * history (events, deliveries, attempts with their indexes) and the rest (leads and contacts, never pruned).
 * With retention the history stops growing once past the retention period; before it, it grows with every lead.
 * Usage: bun test/bench/retention.ts [seconds=150] [leads-per-second=100] [retention-seconds=30] [askad root, default this checkout]
 */
import { Database } from 'bun:sqlite'
import { rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { startServer } from '../exe'
import { printTable, tempDir } from './lib'

const SECONDS = Number(process.argv[2] ?? 150)
const RATE = Number(process.argv[3] ?? 100)
const RETENTION_S = Number(process.argv[4] ?? 30)
const ROOT = process.argv[5] ?? join(import.meta.dir, '..', '..')
const SAMPLE_EVERY_S = 15
/** Requests are sent in ticks of this length, RATE × tick at a time. */
const TICK_MS = 100
const HISTORY_TABLES = new Set(['events', 'webhook_deliveries', 'webhook_attempts'])

const dir = tempDir('retention')
const dbPath = join(dir, 'askad.db')
const key = generateKey('secret')
let delivered = 0
const receiver = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => (delivered++, new Response('ok', { status: 200 })) })
const server = await startServer([process.execPath, join(ROOT, 'src/index.ts'), 'serve', '--db', dbPath], {
  cwd: ROOT,
  env: {
    ASKAD_BOOTSTRAP_KEY: key,
    ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    ASKAD_RATE_LIMIT: '1000000/60s',
    ASKAD_RETENTION_DAYS: String(RETENTION_S / 86_400),
    LOG_LEVEL: 'warn',
  },
})
const post = (path: string, body: unknown) =>
  fetch(`${server.url}/api/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
await post('/webhooks', { url: `http://127.0.0.1:${receiver.port}/hook` })

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(2)
function sample(elapsedS: number, leads: number): Record<string, string | number> {
  const db = new Database(dbPath, { readonly: true })
  try {
    const pages = db
      .query('select m.tbl_name as t, sum(s.pgsize) as bytes from dbstat s join sqlite_master m on m.name = s.name group by m.tbl_name')
      .all() as { t: string; bytes: number }[]
    const history = pages.filter((p) => HISTORY_TABLES.has(p.t)).reduce((sum, p) => sum + p.bytes, 0)
    const rest = pages.filter((p) => !HISTORY_TABLES.has(p.t)).reduce((sum, p) => sum + p.bytes, 0)
    const { n: free } = db.query('select freelist_count as n from pragma_freelist_count').get() as { n: number }
    const { n: pageSize } = db.query('select page_size as n from pragma_page_size').get() as { n: number }
    const { n: events } = db.query('select count(*) as n from events').get() as { n: number }
    const wal = (() => {
      try {
        return statSync(`${dbPath}-wal`).size
      } catch {
        return 0
      }
    })()
    return {
      s: elapsedS,
      leads,
      delivered,
      'events kept': events,
      'file MB': mb(statSync(dbPath).size),
      'WAL MB': mb(wal),
      'history MB': mb(history),
      'leads+contacts+rest MB': mb(rest),
      'free MB': mb(free * pageSize),
    }
  } finally {
    db.close()
  }
}

const rows: Record<string, string | number>[] = []
const started = performance.now()
let sent = 0
let failed = 0
let nextSample = SAMPLE_EVERY_S
const perTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000))
while (performance.now() - started < SECONDS * 1000) {
  const tickStart = performance.now()
  const batch = Array.from({ length: perTick }, () =>
    post('/leads/inbound', { email: `lead-${sent++}@example.com`, source: 'bench', metadata: { utm_source: 'bench' } }),
  )
  for (const res of await Promise.all(batch)) if (res.status !== 201) failed++
  const elapsedS = (performance.now() - started) / 1000
  if (elapsedS >= nextSample) {
    rows.push(sample(Math.round(elapsedS), sent))
    nextSample += SAMPLE_EVERY_S
  }
  await Bun.sleep(Math.max(0, TICK_MS - (performance.now() - tickStart)))
}
await server.stop()
receiver.stop(true)
printTable(`DB size over time: ${RATE} leads/s for ${SECONDS} s, retention ${RETENTION_S} s (${ROOT}); failed requests: ${failed}`, rows)
rmSync(dir, { recursive: true, force: true })
