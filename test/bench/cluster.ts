/**
 * Scale-out benchmark (issue 14): leads/s, p50/p99 and webhook deliveries/s for 1, 2 and 3
 * `dist/askad` nodes on one PostgreSQL versus 1 node on SQLite, with 1 workspace and with 10, in one
 * run on this machine. Load comes from `wrk` (one process per node, the connections split between
 * them), each request a new lead with its own email; every workspace has one webhook endpoint on a
 * local receiver. After each run: deliveries drained, no lead lost or doubled, PostgreSQL's deadlock
 * count unchanged.
 *
 * Usage: bun test/bench/cluster.ts [seconds-per-run]   (needs wrk: apt-get install -y wrk)
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { ensureExecutable, startServer, type RunningServer } from '../exe'
import { skipUnlessPg, testDatabase } from '../pg'
import { startReceiver } from '../webhooks-helpers'
import { haveWrk, printTable, runWrk, tempDir, wrkLeadScript } from './lib'

const SECONDS = Number(process.argv[2] ?? 8)
const CONNECTIONS = 48
const ROOT = join(import.meta.dir, '../..')

if (!haveWrk()) process.exit(1)
if (skipUnlessPg('cluster benchmark')) process.exit(1)

const exe = ensureExecutable()
const dir = tempDir('cluster')
const receiver = startReceiver()

interface Setup {
  engine: 'sqlite' | 'postgres'
  nodes: number
  workspaces: number
}

/** Runs askad's CLI on the database (workspace and key creation). */
function cli(args: string[], env: Record<string, string>): string {
  const run = spawnSync(exe, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'error', ...env }, encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`askad ${args.join(' ')} failed: ${run.stderr}`)
  return run.stdout
}

async function measure(setup: Setup): Promise<Record<string, string | number>> {
  const database = setup.engine === 'postgres' ? await testDatabase() : null
  const dbSetting = database ? database.url : join(dir, `sqlite-${setup.workspaces}-${Date.now()}.db`)
  const bootstrap = generateKey('secret')
  const env = {
    ASKAD_DB: dbSetting,
    ASKAD_BOOTSTRAP_KEY: bootstrap,
    ASKAD_RATE_LIMIT: '1000000000/1s',
    ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    LOG_LEVEL: 'warn',
  }
  const nodes: RunningServer[] = []
  try {
    for (let i = 0; i < setup.nodes; i++) nodes.push(await startServer([exe, 'serve'], { cwd: ROOT, env }))
    const keys = [bootstrap]
    for (let w = 1; w < setup.workspaces; w++) {
      cli(['workspace', 'create', `bench-${w}`], env)
      keys.push(JSON.parse(cli(['key', 'create', '--workspace', `bench-${w}`, '--json'], env)).key)
    }
    for (const key of keys) {
      const res = await fetch(`${nodes[0]!.url}/api/v1/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: `${receiver.url}/hook`, events: ['lead.created'] }),
      })
      if (res.status !== 201) throw new Error(`webhook create: ${res.status} ${await res.text()}`)
    }
    const deadlocksBefore = await deadlocks(database?.url)
    const received = receiver.requests.length
    const started = performance.now()
    const perNode = Math.max(1, Math.floor(CONNECTIONS / setup.nodes))
    const results = await Promise.all(
      nodes.map((node, i) =>
        runWrk(node.url, wrkLeadScript(dir, { tag: `n${i}-${setup.workspaces}`, keys, sources: 5 }), { connections: perNode, seconds: SECONDS }),
      ),
    )
    const ingestSeconds = (performance.now() - started) / 1000
    const acknowledged = results.reduce((sum, r) => sum + r.requests - r.non2xx, 0)
    // wrk stops with requests in flight: those leads may be stored without wrk counting the answer.
    const stored = await countLeads(setup.engine, dbSetting)
    // Deliveries: wait (bounded) until every stored lead's delivery arrived.
    const drainDeadline = performance.now() + 120_000
    while (receiver.requests.length - received < stored && performance.now() < drainDeadline) await Bun.sleep(100)
    const deliverySeconds = (performance.now() - started) / 1000
    const delivered = receiver.requests.length - received
    return {
      engine: setup.engine,
      nodes: setup.nodes,
      workspaces: setup.workspaces,
      'leads/s': Math.round(acknowledged / ingestSeconds),
      'p50 ms': Math.max(...results.map((r) => r.p50)).toFixed(1),
      'p99 ms': Math.max(...results.map((r) => r.p99)).toFixed(1),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      'deliveries/s': Math.round(delivered / deliverySeconds),
      // Acknowledged (201) but not stored: must be 0.
      lost: Math.max(0, acknowledged - stored),
      // Stored but unanswered when wrk stopped: at most one per connection.
      'cut off': stored - acknowledged,
      undelivered: stored - delivered,
      deadlocks: (await deadlocks(database?.url)) - deadlocksBefore,
    }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()))
    await database?.drop()
  }
}

async function deadlocks(url: string | undefined): Promise<number> {
  if (!url) return 0
  const sql = new Bun.SQL(url, { max: 1 })
  try {
    const [row] = await sql`SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()`
    return row.n
  } finally {
    await sql.close()
  }
}

async function countLeads(engine: Setup['engine'], db: string): Promise<number> {
  if (engine === 'sqlite') {
    const { countRows } = await import('../exe')
    return countRows(db, 'select count(*) as n from leads')
  }
  const sql = new Bun.SQL(db, { max: 1 })
  try {
    const [row] = await sql`SELECT count(*)::int AS n FROM leads`
    return row.n
  } finally {
    await sql.close()
  }
}

const setups: Setup[] = []
for (const workspaces of [1, 10]) {
  setups.push({ engine: 'sqlite', nodes: 1, workspaces })
  for (const nodes of [1, 2, 3]) setups.push({ engine: 'postgres', nodes, workspaces })
}
const rows: Record<string, string | number>[] = []
for (const setup of setups) {
  const row = await measure(setup)
  rows.push(row)
  console.log(JSON.stringify(row))
}
printTable(`cluster: wrk -t1 -c${CONNECTIONS} split over the nodes, ${SECONDS} s per setup, one webhook endpoint per workspace`, rows)
receiver.stop()
process.exit(0)
