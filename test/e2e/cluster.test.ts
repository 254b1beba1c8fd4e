/**
 * Scale-out for real (issue 14): one PostgreSQL, three `dist/askad` processes started at once on
 * the empty database, a round-robin balancer in front (test/proxy.ts), real receivers. Leads pour in
 * while one node is killed with SIGKILL; afterwards nothing acknowledged is lost or doubled, the
 * counters and sequences are exact, every delivery settles, the per-key limit holds across the
 * nodes, and no receiver sees more than 10 attempts in flight.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { generateKey } from '../../src/lib/keys'
import { ensureExecutable, spawnTogether, startServer, type RunningServer } from '../exe'
import { skipUnlessPg, testDatabase, type TestDatabase } from '../pg'
import { startProxy, type Balancer } from '../proxy'
import { startReceiver, type Receiver } from '../webhooks-helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const skip = skipUnlessPg('cluster test')
const ROOT = `${import.meta.dir}/../..`
const LEADS = 3_000
const CONCURRENCY = 50
/** A lead answered 502 (its node died mid-request) is sent again with the same Idempotency-Key, like a careful client. */
const MAX_TRIES = 4

interface Node {
  url: string
  proc: ReturnType<typeof Bun.spawn>
}

let database: TestDatabase
let executable: string
const nodes: (Node | RunningServer)[] = []
let proxy: Balancer
let receivers: Receiver[] = []
let env: Record<string, string>
const bootstrapKey = generateKey('secret')

/** The node's database, read directly: the ground truth the API answers are checked against. */
let db: InstanceType<typeof Bun.SQL>

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, key = bootstrapKey) {
  const res = await fetch(proxy.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, any> | null }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await Bun.sleep(200)
  }
}

beforeAll(async () => {
  if (skip) return
  executable = ensureExecutable()
  database = await testDatabase()
  db = new Bun.SQL(database.url, { max: 2 })
  env = {
    ASKAD_DB: database.url,
    ASKAD_BOOTSTRAP_KEY: bootstrapKey,
    ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
    // Keys refill over an hour: the limited key's 100 tokens cannot refill while the test sends its 300 requests.
    ASKAD_RATE_LIMIT: '1000000/3600s',
    ASKAD_TRUSTED_PROXIES: '127.0.0.1',
    LOG_LEVEL: 'warn',
  }
  receivers = [startReceiver(), startReceiver()]
}, 120_000)

afterAll(async () => {
  for (const node of nodes) if (node.proc.exitCode === null) node.proc.kill('SIGKILL')
  await Promise.all(nodes.map((n) => n.proc.exited))
  proxy?.stop()
  for (const r of receivers) r.stop()
  await db?.close()
  await database?.drop()
})

describe.skipIf(skip)('three nodes on one PostgreSQL behind a balancer', () => {
  test('three nodes starting at once on an empty database all come up; one bootstrap workspace', async () => {
    const started = await spawnTogether([executable, 'serve'], 3, { cwd: ROOT, env, readyPattern: /listening on http:\/\/\S+/, timeoutMs: 60_000 })
    for (const s of started) {
      expect(s.exitCode, s.stderr).toBeNull()
      const url = s.stdout.match(/listening on (http:\/\/\S+)/)![1]!.replace('localhost', '127.0.0.1')
      nodes.push({ url, proc: s.proc })
    }
    proxy = startProxy(nodes.map((n) => n.url))
    const [{ n }] = await db`SELECT count(*)::int AS n FROM workspaces`
    expect(n).toBe(1)
    for (const node of nodes) expect((await fetch(`${node.url}/healthz`)).status).toBe(200)
  }, 90_000)

  test(`${LEADS} leads with one node killed mid-run: every lead stored once, counters and sequences exact, every delivery settles`, async () => {
    for (const r of receivers) expect((await api('POST', '/api/v1/webhooks', { url: `${r.url}/hook`, events: ['lead.created'] })).status).toBe(201)

    let sent = 0
    let acknowledged = 0
    let retried = 0
    const ids = new Map<number, string>()
    const killAt = LEADS / 3
    let killed: Node | RunningServer | undefined
    const worker = async () => {
      while (sent < LEADS) {
        const i = sent++
        for (let attempt = 1; ; attempt++) {
          const res = await api(
            'POST',
            '/api/v1/leads/inbound',
            { email: `lead-${i}@cluster.example`, source: `src-${i % 5}` },
            { 'idempotency-key': `lead-${i}` },
          )
          if (res.status === 201) {
            ids.set(i, res.body!.id)
            acknowledged++
            break
          }
          expect([502, 503]).toContain(res.status)
          expect(attempt).toBeLessThan(MAX_TRIES)
          retried++
          await Bun.sleep(50)
        }
        if (acknowledged >= killAt && !killed) {
          killed = nodes[1]!
          killed.proc.kill('SIGKILL')
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    expect(killed).toBeDefined()
    expect(acknowledged).toBe(LEADS)

    // Exactly once: one lead per email, and it is the one the API acknowledged.
    const rows: { id: string; email: string }[] = await db`SELECT id, email FROM leads`
    expect(rows.length).toBe(LEADS)
    const byEmail = new Map(rows.map((r) => [r.email, r.id]))
    for (const [i, id] of ids) expect(byEmail.get(`lead-${i}@cluster.example`)).toBe(id)

    // Counters equal the rows; sequences are dense 1..N overall and per source.
    const [counts] = await db`SELECT
      (SELECT value FROM counters WHERE name = 'leads')::int AS leads_counter,
      (SELECT value FROM counters WHERE name = 'contacts')::int AS contacts_counter,
      (SELECT count(*) FROM contacts)::int AS contacts,
      (SELECT count(DISTINCT seq) FROM leads)::int AS distinct_seqs,
      (SELECT max(seq) FROM leads)::int AS max_seq`
    expect(counts).toEqual({ leads_counter: LEADS, contacts_counter: LEADS, contacts: LEADS, distinct_seqs: LEADS, max_seq: LEADS })
    const perSource: { source: string; n: number; top: number; counter: number }[] = await db`
      SELECT l.source, count(*)::int AS n, max(l.source_seq)::int AS top, c.value::int AS counter
      FROM leads l JOIN counters c ON c.name = 'leads:source:' || l.source GROUP BY l.source, c.value`
    expect(perSource).toHaveLength(5)
    for (const s of perSource) expect([s.top, s.counter]).toEqual([s.n, s.n])

    // The killed node restarts (as systemd or Docker would); its dead leases are released and every delivery settles.
    const index = nodes.indexOf(killed!)
    nodes[index] = await startServer([executable, 'serve'], { cwd: ROOT, env })
    proxy.replace(index, nodes[index]!.url)
    await until(
      'every delivery succeeded',
      async () => {
        const [{ n }] = await db`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status <> 'succeeded'`
        return n === 0
      },
      120_000,
    )
    const [{ deliveries }] = await db`SELECT count(*)::int AS deliveries FROM webhook_deliveries`
    expect(deliveries).toBe(2 * LEADS)
    for (const r of receivers) {
      const seen = new Map<string, number>()
      for (const req of r.requests) seen.set(req.headers['webhook-id']!, (seen.get(req.headers['webhook-id']!) ?? 0) + 1)
      expect(seen.size).toBe(LEADS)
      // Duplicates only for attempts that were in flight on the killed node (at most 10 per endpoint), same webhook-id.
      const duplicates = [...seen.values()].filter((n) => n > 1).length
      expect(duplicates).toBeLessThanOrEqual(10)
    }
    console.log(
      `cluster: ${LEADS} leads, ${retried} retried after a 502, proxy ${JSON.stringify(proxy.stats())}, ` +
        `receivers got ${receivers.map((r) => r.requests.length).join(' + ')} requests for ${2 * LEADS} deliveries`,
    )
  }, 240_000)

  test('300 requests on one key spread over the nodes: exactly 100 × 2xx and 200 × 429', async () => {
    const created = await api('POST', '/api/v1/api-keys', { kind: 'secret', name: 'limited', scopes: ['contacts:read'], rate_limit: 100 })
    expect(created.status).toBe(201)
    const key = created.body!.key as string
    // 50 at a time: the balancer runs in this process, and Bun's fetch holds at most 256 requests at once in a
    // process, so 300 client requests at once would leave the balancer no room to forward them.
    const statuses: number[] = []
    let next = 0
    const worker = async () => {
      while (next < 300) {
        next++
        statuses.push((await api('GET', '/api/v1/contacts?limit=1', undefined, {}, key)).status)
      }
    }
    await Promise.all(Array.from({ length: 50 }, worker))
    const counts: Record<number, number> = {}
    for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1
    expect(counts).toEqual({ 200: 100, 429: 200 })
  }, 60_000)

  test('a slow receiver never has more than 10 attempts in flight across the nodes', async () => {
    const slow = startReceiver(async () => {
      await Bun.sleep(200)
      return new Response(null, { status: 204 })
    })
    receivers.push(slow)
    const endpoint = await api('POST', '/api/v1/webhooks', { url: `${slow.url}/slow`, events: ['deal.closed'] })
    expect(endpoint.status).toBe(201)
    const tests = 60
    for (let i = 0; i < tests; i++) expect((await api('POST', `/api/v1/webhooks/${endpoint.body!.id}/test`)).status).toBe(202)
    await until('the slow receiver got every test event', async () => slow.requests.length >= tests, 60_000)
    expect(slow.peakOpen()).toBeLessThanOrEqual(10)
    expect(slow.peakOpen()).toBeGreaterThan(1)
  }, 90_000)
})
