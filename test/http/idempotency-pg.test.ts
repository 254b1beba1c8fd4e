/**
 * Idempotency-Key on PostgreSQL, where several nodes answer one client: three apps, each with its
 * own pool on one database, minting API keys (POST /api/v1/api-keys, a write through answerWrite).
 * Exactly once rests on the answer row, written under its lock in the transaction of the change.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { idempotencyKeys } from '../../src/db/pg/schema'
import { IDEMPOTENCY_TTL_MS } from '../../src/plugins/idempotency'
import { createKey, listKeys } from '../../src/modules/api-keys/service'
import { createWorkspace } from '../../src/modules/workspaces/service'
import { pgNodes, type PgNodes } from '../keys-engines'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const NODES = 3

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

  test('two nodes running one key at once, ten times: one key each time, the later answer a replay of the first', async () => {
    for (let round = 0; round < 10; round++) {
      const before = await keyCount()
      const answers = await Promise.all([mint(0, `pair-${round}`), mint(1, `pair-${round}`)])
      expect(answers.map((r) => r.status)).toEqual([201, 201])
      expect(answers.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(1)
      const bodies = (await Promise.all(answers.map((r) => r.json()))) as { id: string }[]
      expect(bodies[0]!.id).toBe(bodies[1]!.id)
      expect(await keyCount()).toBe(before + 1)
    }
  })

  test('nothing is left reserved in the database: an in_flight row (a killed node leaves none) is no answer, the retry runs', async () => {
    const now = nodes.deps.clock.now()
    await nodes.database.pg
      .insert(idempotencyKeys)
      .values({ apiKeyId: managerId, key: 'orphan', requestHash: 'x', state: 'in_flight', createdAt: now, expiresAt: now + IDEMPOTENCY_TTL_MS })
    const before = await keyCount()
    const retry = await mint(2, 'orphan')
    expect(retry.status).toBe(201)
    expect(retry.headers.get('idempotent-replayed')).toBeNull()
    expect(await keyCount()).toBe(before + 1)
    expect((await row('orphan'))?.state).toBe('done')
  })

  test('an error answer leaves the key free: the corrected retry runs at once, on another node', async () => {
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
