/**
 * Fault: kill -9 of the server in the middle of an ingest load, then a restart on the same database.
 * Every lead whose 201 the client received must be stored, exactly once; the kept counters must
 * match the rows (total and dense seq); the database must pass `PRAGMA integrity_check`; and
 * retrying the unacknowledged requests with their Idempotency-Key must not duplicate anything.
 * `test/e2e/fault-ingest.test.ts` runs one cycle; run this directly for several (≤ 3 min):
 * bun test/bench/fault-ingest.ts [cycles] [requests-per-cycle]
 */
import { Database } from 'bun:sqlite'
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { ensureExecutable, startServer, type RunningServer } from '../exe'
import { printTable, tempDir } from './lib'

/** Simultaneous requests of the load. */
const CONCURRENCY = 32

export interface IngestDb {
  dir: string
  dbPath: string
  key: string
}

/** A fresh temp folder and database path, and the key the server bootstraps with. */
export function ingestDb(): IngestDb {
  const dir = tempDir('fault-ingest')
  return { dir, dbPath: join(dir, 'askad.db'), key: generateKey('secret') }
}

/** Starts the executable on the database (the same one across restarts). */
export async function startAskad(target: IngestDb): Promise<RunningServer> {
  return await startServer([ensureExecutable(), 'serve'], {
    cwd: target.dir,
    env: { ASKAD_DB: target.dbPath, ASKAD_BOOTSTRAP_KEY: target.key, ASKAD_RATE_LIMIT: '1000000000/1s', LOG_LEVEL: 'warn' },
  })
}

interface Submission {
  email: string
  idempotencyKey: string
}

type Outcome = { kind: 'acked'; id: string } | { kind: 'failed'; error: string } | { kind: 'refused'; status: number } | { kind: 'unsent' }

function send(url: string, key: string, s: Submission): Promise<Response> {
  return fetch(`${url}/api/v1/leads/inbound`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': s.idempotencyKey },
    body: JSON.stringify({ email: s.email, first_name: 'Fault', source: 'fault-test', metadata: { key: s.idempotencyKey } }),
  })
}

export interface CycleResult {
  sent: number
  ackedBeforeKill: number
  failedInFlight: number
  unsent: number
  refused: number
  retriedCreated: number
  retriedReplayed: number
  /** Retries answered 409: their reservation was in flight when the process died. */
  retriedInFlight: { email: string; idempotencyKey: string }[]
  retriedOther: number
  leadsInDb: number
}

/**
 * One cycle: start, send `requests` unique leads at CONCURRENCY, SIGKILL once `killAfter` were
 * acknowledged, restart on the same database, check every acknowledged id through the API,
 * retry everything unacknowledged with its Idempotency-Key, stop, and verify the database.
 */
export async function killCycle(target: IngestDb, options: { requests: number; killAfter: number; tag: string }): Promise<CycleResult> {
  const submissions: Submission[] = Array.from({ length: options.requests }, (_, i) => ({
    email: `fault-${options.tag}-${i}@example.com`,
    idempotencyKey: `fault-${options.tag}-${i}`,
  }))
  const outcomes: Outcome[] = submissions.map(() => ({ kind: 'unsent' }))

  const first = await startAskad(target)
  let acked = 0
  let killed = false
  let next = 0
  const worker = async () => {
    while (!killed && next < submissions.length) {
      const i = next++
      try {
        const res = await send(first.url, target.key, submissions[i]!)
        const body = (await res.json()) as { id?: string }
        outcomes[i] = res.status === 201 && body.id ? { kind: 'acked', id: body.id } : { kind: 'refused', status: res.status }
        if (res.status === 201 && ++acked >= options.killAfter && !killed) {
          killed = true
          first.proc.kill('SIGKILL')
        }
      } catch (error) {
        outcomes[i] = { kind: 'failed', error: (error as Error).message }
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  if (!killed) first.proc.kill('SIGKILL')
  await first.proc.exited

  const second = await startAskad(target)
  const ackedIds = outcomes.flatMap((o) => (o.kind === 'acked' ? [o.id] : []))
  for (const id of ackedIds) {
    const res = await fetch(`${second.url}/api/v1/leads/${id}`, { headers: { authorization: `Bearer ${target.key}` } })
    if (res.status !== 200) throw new Error(`acknowledged lead ${id} answers ${res.status} after the restart`)
  }

  const result: CycleResult = {
    sent: outcomes.filter((o) => o.kind !== 'unsent').length,
    ackedBeforeKill: ackedIds.length,
    failedInFlight: outcomes.filter((o) => o.kind === 'failed').length,
    unsent: outcomes.filter((o) => o.kind === 'unsent').length,
    refused: outcomes.filter((o) => o.kind === 'refused').length,
    retriedCreated: 0,
    retriedReplayed: 0,
    retriedInFlight: [],
    retriedOther: 0,
    leadsInDb: 0,
  }
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.kind === 'acked') continue
    const res = await send(second.url, target.key, submissions[i]!)
    await res.arrayBuffer()
    if (res.status === 201) res.headers.get('idempotent-replayed') === 'true' ? result.retriedReplayed++ : result.retriedCreated++
    else if (res.status === 409) result.retriedInFlight.push(submissions[i]!)
    else result.retriedOther++
  }
  if ((await second.stop('SIGTERM')) !== 0) throw new Error('the restarted server did not stop cleanly')

  result.leadsInDb = verifyDatabase(target.dbPath, ackedIds)
  return result
}

/**
 * Checks the stored state with the server stopped: each acknowledged id once, no email twice,
 * counters equal to the rows with dense sequence numbers, integrity ok. Returns the lead count.
 */
export function verifyDatabase(dbPath: string, ackedIds: string[]): number {
  const db = new Database(dbPath, { readonly: true })
  try {
    const integrity = db.query<{ integrity_check: string }, []>('pragma integrity_check').all()
    if (integrity.length !== 1 || integrity[0]!.integrity_check !== 'ok') throw new Error(`integrity_check: ${JSON.stringify(integrity)}`)
    const byId = db.query<{ n: number }, [string]>('select count(*) as n from leads where id = ?')
    for (const id of ackedIds) {
      const n = byId.get(id)!.n
      if (n !== 1) throw new Error(`acknowledged lead ${id} is stored ${n} times`)
    }
    const duplicates = db.query('select email, count(*) as n from leads group by workspace_id, email having count(*) > 1').all()
    if (duplicates.length) throw new Error(`duplicated leads: ${JSON.stringify(duplicates.slice(0, 5))}`)
    for (const table of ['leads', 'contacts']) {
      const rows = db
        .query<{ workspace_id: string; rows: number; max_seq: number; seqs: number; counter: number | null }, []>(
          `select t.workspace_id, count(*) as rows, max(t.seq) as max_seq, count(distinct t.seq) as seqs,
             (select value from counters c where c.workspace_id = t.workspace_id and c.name = '${table}') as counter
           from ${table} t group by t.workspace_id`,
        )
        .all()
      for (const r of rows) {
        if (r.counter !== r.rows || r.max_seq !== r.rows || r.seqs !== r.rows) {
          throw new Error(`${table} of ${r.workspace_id}: ${r.rows} rows, counter ${r.counter}, max seq ${r.max_seq}, ${r.seqs} distinct seqs`)
        }
      }
    }
    return db.query<{ n: number }, []>('select count(*) as n from leads').get()!.n
  } finally {
    db.close()
  }
}

/** After a restart, retries of reservations that died with the process: once they count as abandoned, each must create at most one lead. */
export async function retryAbandoned(target: IngestDb, pending: Submission[]): Promise<{ created: number; replayed: number; other: number }> {
  const server = await startAskad(target)
  const counts = { created: 0, replayed: 0, other: 0 }
  for (const s of pending) {
    const res = await send(server.url, target.key, s)
    await res.arrayBuffer()
    if (res.status === 201) res.headers.get('idempotent-replayed') === 'true' ? counts.replayed++ : counts.created++
    else counts.other++
  }
  await server.stop('SIGTERM')
  return counts
}

if (import.meta.main) {
  const cycles = Number(process.argv[2] ?? 5)
  const requests = Number(process.argv[3] ?? 2000)
  const deadline = Date.now() + 170_000
  const target = ingestDb()
  console.log(`fault-ingest: ${cycles} kill -9 cycles of up to ${requests} leads at concurrency ${CONCURRENCY}, database ${target.dbPath}`)
  const rows: Record<string, string | number>[] = []
  const abandoned: Submission[] = []
  let ackedTotal = 0
  for (let cycle = 1; cycle <= cycles && Date.now() < deadline - 70_000; cycle++) {
    // Kill at a different point of each load.
    const killAfter = Math.max(1, Math.floor(requests * (0.15 + 0.7 * Math.random())))
    const r = await killCycle(target, { requests, killAfter, tag: `c${cycle}` })
    ackedTotal += r.ackedBeforeKill
    abandoned.push(...r.retriedInFlight)
    rows.push({
      cycle,
      'killed after': killAfter,
      sent: r.sent,
      '201 before kill': r.ackedBeforeKill,
      'lost in flight': r.failedInFlight,
      'retry → 201 new': r.retriedCreated,
      'retry → replayed': r.retriedReplayed,
      'retry → 409': r.retriedInFlight.length,
      'other status': r.refused + r.retriedOther,
      'leads in db': r.leadsInDb,
      checks: 'ok',
    })
  }
  printTable('fault-ingest: kill -9 during ingest, restart, verify, retry with the same Idempotency-Key', rows)
  if (abandoned.length) {
    // A reservation left in flight by the dead process is taken over after ABANDONED_AFTER_MS (60 s).
    console.log(`\n${abandoned.length} retries were 409 (reservation in flight at the kill); waiting 61 s until they count as abandoned…`)
    await Bun.sleep(61_000)
    const counts = await retryAbandoned(target, abandoned)
    const leads = verifyDatabase(target.dbPath, [])
    printTable('fault-ingest: retries of abandoned reservations', [
      { retried: abandoned.length, '201 new': counts.created, replayed: counts.replayed, other: counts.other, 'leads in db': leads, checks: 'ok' },
    ])
  }
  console.log(`\nall checks passed: ${ackedTotal} acknowledged leads stored exactly once, counters and seq dense, integrity ok, no duplicates`)
  process.exit(0)
}
