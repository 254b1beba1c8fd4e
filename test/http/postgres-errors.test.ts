/**
 * PostgreSQL's own failure modes answer like SQLite's: a database that drops a connection mid-request
 * is a 503 with Retry-After (never a 500, and no lead data in the log); an endpoint deleted while a
 * lead is being stored does not fail the lead; a NUL character is a clean 4xx on both engines.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { SQL } from 'bun'
import { createHarness, expectProblem, TEST_ENGINE, type Harness } from '../helpers'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

describe.skipIf(skipUnlessPg('PostgreSQL error answers'))('on PostgreSQL', () => {
  let h: Harness
  let admin: SQL
  beforeAll(() => {
    h = createHarness({ engine: 'postgres', env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
    admin = new SQL(h.dbPath, { max: 2 })
  })
  afterAll(async () => {
    await admin.close()
    await h.close()
  })

  /** Sends a request while `table` is locked, then kills the backend waiting for the lock: the connection drops mid-query. */
  async function withDroppedConnection(table: string, send: () => Promise<Response>): Promise<Response> {
    const database = new URL(h.dbPath).pathname.slice(1)
    let pending: Promise<Response> | undefined
    await admin.begin(async (tx) => {
      await tx.unsafe(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`)
      pending = send()
      for (let i = 0; i < 50; i++) {
        const [waiting] = await tx`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${database} AND wait_event_type = 'Lock'`
        if (waiting.n > 0) break
        await Bun.sleep(20)
      }
      await tx`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${database} AND wait_event_type = 'Lock'`
    })
    return pending!
  }

  test('a connection dropped mid-query is a 503 with Retry-After, on reads through the query builder and on ingest; the log holds no lead data', async () => {
    const ws = await h.workspace()
    const lead = await h.pushLead(ws.key, { email: 'private-person@example.com', source: 'form' })
    for (const [table, send] of [
      ['leads', () => h.request('GET', `/api/v1/leads/${lead.id}`, { key: ws.key })],
      ['contacts', () => h.request('GET', `/api/v1/contacts/${lead.contact_id}`, { key: ws.key })],
      ['contacts', () => h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'private-person@example.com', source: 'form' } })],
    ] as const) {
      const res = await withDroppedConnection(table, send)
      await expectProblem(res, 503)
      expect(res.headers.get('retry-after')).toBe('5')
    }
    const logged = h.logs.join('\n')
    expect(logged).toContain('storage.unavailable')
    expect(logged).not.toContain('private-person')
    // The node recovers at once: the pool opens a new connection.
    expect((await h.request('GET', `/api/v1/leads/${lead.id}`, { key: ws.key })).status).toBe(200)
  })

  test('an endpoint deleted while a lead is being queued for it: the lead is stored (201), with no delivery to the deleted endpoint', async () => {
    const ws = await h.workspace()
    const created = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: 'http://127.0.0.1:9/hook' } })
    const endpoint = (await created.json()) as { id: string }
    let lead: Promise<Response> | undefined
    await admin.begin(async (tx) => {
      // The delete is made but not committed when the lead reads the workspace's endpoints.
      await tx`DELETE FROM webhook_endpoints WHERE id = ${endpoint.id}`
      lead = h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'during-delete@example.com', source: 'form' } })
      await Bun.sleep(300)
    })
    expect((await lead!).status).toBe(201)
    expect(await h.rows.count('webhookDeliveries', { endpointId: endpoint.id })).toBe(0)
  })
})

describe(`a NUL character (${TEST_ENGINE})`, () => {
  let h: Harness
  beforeAll(() => {
    h = createHarness()
  })
  afterAll(() => h.close())

  test('in the URL is a 400 on every route, whatever the engine', async () => {
    const ws = await h.workspace()
    for (const path of ['/api/v1/leads/%00', '/api/v1/leads?source=%00', '/api/v1/contacts?email=a%00@x.com', '/api/v1/deals/%00', '/api/v1/api-keys/%00']) {
      await expectProblem(await h.request('GET', path, { key: ws.key }), 400)
    }
    await expectProblem(await h.request('PATCH', '/api/v1/contacts/%00', { key: ws.key, body: { first_name: 'x' } }), 400)
  })

  test('in an id inside a JSON body is never a 500', async () => {
    const ws = await h.workspace()
    const res = await h.request('POST', '/api/v1/deals', { key: ws.key, body: { title: 'x', contact_id: 'a\u0000b' } })
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(res.status).toBeLessThan(500)
  })
})
