/**
 * Idempotency-Key on PostgreSQL, where several nodes answer one client: three apps, each with its
 * own pool on one database, minting API keys (POST /api/v1/api-keys, a write through answerWrite).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { idempotencyKeys } from '../../src/db/pg/schema'
import { IDEMPOTENCY_TTL_MS } from '../../src/plugins/idempotency'
import { createKey, listKeys } from '../../src/modules/api-keys/service'
import { createWorkspace } from '../../src/modules/workspaces/service'
import { pgNodes, type PgNodes } from '../keys-engines'
import { skipUnlessPg } from '../pg'

const NODES = 3
const ABANDONED_AFTER_MS = 60_000

describe.skipIf(skipUnlessPg('Idempotency-Key on PostgreSQL'))('Idempotency-Key across nodes on PostgreSQL', () => {
  let nodes: PgNodes
  let workspaceId: string
  let managerKey: string
  let managerId: string

  beforeAll(async () => {
    nodes = await pgNodes(NODES, { ASKAD_RATE_LIMIT: '10000/60s' })
    workspaceId = (await createWorkspace(nodes.deps, { slug: 'acme' })).id
    const manager = await createKey(nodes.deps, { workspaceId, kind: 'secret' })
    managerKey = manager.key
    managerId = manager.record.id
  })
  afterAll(() => nodes.close())

  const mint = (node: number, idempotencyKey: string, body: Record<string, unknown> = { kind: 'secret', name: 'ci' }) =>
    nodes.apps[node % NODES]!.handle(
      new Request('http://localhost/api/v1/api-keys', {
        method: 'POST',
        headers: { authorization: `Bearer ${managerKey}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify(body),
      }),
    )
  const keyCount = async () => (await listKeys(nodes.deps, workspaceId)).length
  const row = async (key: string) => {
    const [found] = await nodes.database.pg
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.apiKeyId, managerId), eq(idempotencyKeys.key, key)))
    return found
  }

  test('20 identical POSTs at once on three nodes: one key minted, one fresh answer, the rest replays or 409', async () => {
    const before = await keyCount()
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => mint(i, 'burst')))
    const statuses = answers.map((r) => r.status)
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true)
    const created = answers.filter((r) => r.status === 201)
    expect(created.filter((r) => r.headers.get('idempotent-replayed') === null)).toHaveLength(1)
    expect(new Set((await Promise.all(created.map((r) => r.json()))).map((b: { id: string }) => b.id)).size).toBe(1)
    for (const conflict of answers.filter((r) => r.status === 409)) {
      expect((await conflict.json()).type).toBe('/docs#problem-idempotency-in-flight')
    }
    expect(await keyCount()).toBe(before + 1)
    expect((await row('burst'))?.state).toBe('done')
    // Any node replays it afterwards; the same key for another request is 422.
    for (let node = 0; node < NODES; node++) expect((await mint(node, 'burst')).headers.get('idempotent-replayed')).toBe('true')
    expect((await mint(1, 'burst', { kind: 'secret', name: 'other' })).status).toBe(422)
    expect(await keyCount()).toBe(before + 1)
  })

  test("a key reserved by another node is 409 (422 for another request) until that node's reservation is abandoned", async () => {
    const now = nodes.deps.clock.now()
    const reserve = (createdAt: number, requestHash = 'another-request') =>
      nodes.database.pg
        .insert(idempotencyKeys)
        .values({ apiKeyId: managerId, key: 'held', requestHash, state: 'in_flight', createdAt, expiresAt: now + IDEMPOTENCY_TTL_MS })
    const running = await mint(0, 'probe')
    const hash = (await row('probe'))!.requestHash
    expect(running.status).toBe(201)
    await reserve(now, hash)
    const before = await keyCount()
    const duplicate = await mint(1, 'held')
    expect(duplicate.status).toBe(409)
    expect(await keyCount()).toBe(before)
    await nodes.database.pg.update(idempotencyKeys).set({ requestHash: 'another-request' }).where(eq(idempotencyKeys.key, 'held'))
    expect((await mint(2, 'held')).status).toBe(422)
    // The node that held it died: a minute later a retry takes the key over and runs.
    await nodes.database.pg
      .update(idempotencyKeys)
      .set({ createdAt: now - ABANDONED_AFTER_MS - 1 })
      .where(eq(idempotencyKeys.key, 'held'))
    const takeover = await mint(1, 'held')
    expect(takeover.status).toBe(201)
    expect(takeover.headers.get('idempotent-replayed')).toBeNull()
    expect(await keyCount()).toBe(before + 1)
  })

  test('an error answer frees the key before it is sent: the corrected retry runs at once', async () => {
    const refused = await mint(0, 'fix-me', { kind: 'publishable' })
    expect(refused.status).toBe(422)
    expect(await row('fix-me')).toBeUndefined()
    const fixed = await mint(1, 'fix-me', { kind: 'publishable', allowed_origins: ['https://shop.example'] })
    expect(fixed.status).toBe(201)
    expect(fixed.headers.get('idempotent-replayed')).toBeNull()
  })

  test('an answer is replayed for 24 h; after that the key starts afresh', async () => {
    const first = await mint(0, 'daily')
    expect(first.status).toBe(201)
    nodes.deps.clock.advance(IDEMPOTENCY_TTL_MS - 1)
    expect((await mint(1, 'daily')).headers.get('idempotent-replayed')).toBe('true')
    nodes.deps.clock.advance(1)
    const before = await keyCount()
    const nextDay = await mint(2, 'daily', { kind: 'secret', name: 'next day' })
    expect(nextDay.status).toBe(201)
    expect(nextDay.headers.get('idempotent-replayed')).toBeNull()
    expect(await keyCount()).toBe(before + 1)
  })
})
