/**
 * Fault: kill -9 of the server while clients send idempotent POSTs, then a restart on the same database.
 * An Idempotency-Key must be either absent (the retry runs the request) or complete (the retry gets the
 * stored answer): never a lead without its stored answer, never a key that answers 409 after the restart,
 * and never a second lead for one key, neither on an immediate retry nor on one after the old 60 s
 * reservation window. `test/e2e/fault-idempotency.test.ts` runs a few cycles; run this for the long version:
 * bun test/bench/fault-idempotency.ts [cycles] [clients] [--no-late-retry]
 */
import { Database } from 'bun:sqlite'
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { startServer, type RunningServer } from '../exe'
import { printTable, tempDir } from './lib'

const ROOT = join(import.meta.dir, '..', '..')

/** Longest wait for the first answer of a cycle's load before the kill timer starts anyway. */
const FIRST_ANSWER_TIMEOUT_MS = 5_000

/** The old in-flight reservation was taken over after 60 s; a late retry waits just past it. */
export const LATE_RETRY_AFTER_MS = 61_000

export interface FaultTarget {
  dir: string
  dbPath: string
  key: string
}

/** A fresh temp folder and database path, and the key the server bootstraps with. */
export function faultTarget(): FaultTarget {
  const dir = tempDir('fault-idempotency')
  return { dir, dbPath: join(dir, 'askad.db'), key: generateKey('secret') }
}

/** Starts `bun src/index.ts serve` on the database (the same one across restarts). */
export async function startAskad(target: FaultTarget): Promise<RunningServer> {
  return await startServer([process.execPath, join(ROOT, 'src', 'index.ts'), 'serve'], {
    cwd: target.dir,
    env: { ASKAD_DB: target.dbPath, ASKAD_BOOTSTRAP_KEY: target.key, ASKAD_RATE_LIMIT: '1000000000/1s', LOG_LEVEL: 'error' },
  })
}

/** One client's request: its key is also the lead's email local part, so leads are counted per key. */
function send(url: string, key: string, idempotencyKey: string): Promise<Response> {
  return fetch(`${url}/api/v1/leads/inbound`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    body: JSON.stringify({ email: `${idempotencyKey}@example.com`, source: 'fault-idempotency', metadata: { idempotency_key: idempotencyKey } }),
  })
}

export interface KillCycleResult {
  sent: number
  answered: number
  unanswered: string[]
  /** Keys in the database (all cycles so far) that are not complete, or leads without their stored answer, right after the kill. */
  incompleteKeys: number
  retryCreated: number
  retryReplayed: number
  retry409: number
  retryOther: number
}

/**
 * One cycle: start, `clients` workers each send idempotent POSTs with fresh keys until the kill, SIGKILL
 * `killAfterMs` after the first answer, inspect the database, restart, retry every unanswered key once, stop.
 */
export async function killCycle(target: FaultTarget, options: { clients: number; killAfterMs: number; tag: string }): Promise<KillCycleResult> {
  const server = await startAskad(target)
  const unanswered: string[] = []
  let sent = 0
  let answered = 0
  let killed = false
  let loadRunning: () => void = () => {}
  const firstAnswer = new Promise<void>((resolve) => (loadRunning = resolve))
  const client = async (c: number) => {
    for (let n = 0; !killed; n++) {
      const idempotencyKey = `${options.tag}-c${c}-${n}`
      sent++
      try {
        const res = await send(server.url, target.key, idempotencyKey)
        await res.arrayBuffer()
        if (res.status !== 201) throw new Error(`status ${res.status}`)
        answered++
        loadRunning()
      } catch {
        unanswered.push(idempotencyKey)
      }
    }
  }
  const clients = Promise.all(Array.from({ length: options.clients }, (_, c) => client(c)))
  // The kill lands `killAfterMs` into the steady load, not in the server's warm-up.
  await Promise.race([firstAnswer, Bun.sleep(FIRST_ANSWER_TIMEOUT_MS)])
  await Bun.sleep(options.killAfterMs)
  killed = true
  server.proc.kill('SIGKILL')
  await server.proc.exited
  await clients

  const incompleteKeys = incompleteKeysIn(target.dbPath)
  const restarted = await startAskad(target)
  const result: KillCycleResult = { sent, answered, unanswered, incompleteKeys, retryCreated: 0, retryReplayed: 0, retry409: 0, retryOther: 0 }
  const retries = await retryAll(restarted.url, target.key, unanswered)
  Object.assign(result, retries)
  await restarted.stop('SIGTERM')
  return result
}

/** Retries each key once (concurrently), counting the answers. */
export async function retryAll(url: string, key: string, idempotencyKeys: string[]) {
  const counts = { retryCreated: 0, retryReplayed: 0, retry409: 0, retryOther: 0 }
  await Promise.all(
    idempotencyKeys.map(async (k) => {
      const res = await send(url, key, k)
      await res.arrayBuffer()
      if (res.status === 201) res.headers.get('idempotent-replayed') === 'true' ? counts.retryReplayed++ : counts.retryCreated++
      else if (res.status === 409) counts.retry409++
      else counts.retryOther++
    }),
  )
  return counts
}

/** Keys that are neither absent nor complete: a stored key without its answer, or a lead whose key has no stored answer. */
export function incompleteKeysIn(dbPath: string): number {
  const db = new Database(dbPath, { readonly: true })
  try {
    const unfinished = db.query<{ n: number }, []>(`select count(*) as n from idempotency_keys where state <> 'done' or response_body is null`).get()!.n
    const unanswered = db
      .query<{ n: number }, []>(
        `select count(*) as n from leads l
         where l.source = 'fault-idempotency'
           and not exists (select 1 from idempotency_keys k where k.key = json_extract(l.metadata, '$.idempotency_key') and k.state = 'done' and k.response_body like '%' || l.id || '%')`,
      )
      .get()!.n
    return unfinished + unanswered
  } finally {
    db.close()
  }
}

/** Leads per key beyond the first (each key names one intended lead), and `lead.created` events beyond the first. */
export function duplicatesIn(dbPath: string): { leads: number; events: number; keys: number } {
  const db = new Database(dbPath, { readonly: true })
  try {
    const leads = db
      .query<{ n: number }, []>(`select coalesce(sum(n - 1), 0) as n from (select count(*) as n from leads where source = 'fault-idempotency' group by email)`)
      .get()!.n
    const events = db
      .query<{ n: number }, []>(
        `select coalesce(sum(n - 1), 0) as n from (select count(*) as n from events where type = 'lead.created' and json_extract(payload, '$.data.lead.source') = 'fault-idempotency' group by json_extract(payload, '$.data.lead.email'))`,
      )
      .get()!.n
    const keys = db.query<{ n: number }, []>(`select count(distinct email) as n from leads where source = 'fault-idempotency'`).get()!.n
    return { leads, events, keys }
  } finally {
    db.close()
  }
}

if (import.meta.main) {
  const cycles = Number(process.argv[2] ?? 30)
  const clients = Number(process.argv[3] ?? 64)
  const lateRetry = !process.argv.includes('--no-late-retry')
  const target = faultTarget()
  console.log(`fault-idempotency: ${cycles} kill -9 cycles, ${clients} clients with unique Idempotency-Keys, database ${target.dbPath}`)
  const rows: Record<string, string | number>[] = []
  const allUnanswered: string[] = []
  for (let cycle = 1; cycle <= cycles; cycle++) {
    const killAfterMs = Math.round(Math.random() * 500)
    const r = await killCycle(target, { clients, killAfterMs, tag: `k${cycle}` })
    allUnanswered.push(...r.unanswered)
    rows.push({
      cycle,
      'kill after ms': killAfterMs,
      sent: r.sent,
      answered: r.answered,
      unanswered: r.unanswered.length,
      'incomplete keys in db': r.incompleteKeys,
      'retry → 201 new': r.retryCreated,
      'retry → replayed': r.retryReplayed,
      'retry → 409': r.retry409,
      'retry → other': r.retryOther,
    })
  }
  printTable('fault-idempotency: kill -9 during idempotent POSTs, restart, retry every unanswered key at once', rows)
  if (lateRetry) {
    console.log(`\nwaiting ${LATE_RETRY_AFTER_MS / 1000} s (past the old reservation window), then retrying all ${allUnanswered.length} unanswered keys again…`)
    await Bun.sleep(LATE_RETRY_AFTER_MS)
    const server = await startAskad(target)
    const late = await retryAll(server.url, target.key, allUnanswered)
    await server.stop('SIGTERM')
    printTable('fault-idempotency: late retry', [
      { retried: allUnanswered.length, '201 new': late.retryCreated, replayed: late.retryReplayed, 'answered 409': late.retry409, other: late.retryOther },
    ])
  }
  const dup = duplicatesIn(target.dbPath)
  const totals = { incomplete: 0, conflicts: 0 }
  for (const r of rows) {
    totals.incomplete = Math.max(totals.incomplete, Number(r['incomplete keys in db']))
    totals.conflicts += Number(r['retry → 409'])
  }
  printTable('fault-idempotency: totals', [
    {
      cycles,
      'keys with a lead': dup.keys,
      'duplicate leads': dup.leads,
      'duplicate lead.created': dup.events,
      'incomplete keys in db (max)': totals.incomplete,
      '409 after restart': totals.conflicts,
    },
  ])
  process.exit(dup.leads === 0 && dup.events === 0 && totals.incomplete === 0 && totals.conflicts === 0 ? 0 : 1)
}
