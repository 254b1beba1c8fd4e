/** The API-key store on both engines: the same test bodies; on PostgreSQL also with several nodes at once. */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { ApiError } from '../../src/errors'
import { generateKey } from '../../src/lib/keys'
import { parsePageQuery } from '../../src/lib/pagination'
import { authenticateKey, createKey, createKeyFor, getKey, listKeys, listKeysPage, revokeKey, serializeKey } from '../../src/modules/api-keys/service'
import { createWorkspace } from '../../src/modules/workspaces/service'
import { ENGINES, engineDeps, type EngineDeps } from '../keys-engines'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const MINUTE = 60_000

/** Races on PostgreSQL open several pools and databases: generous on a loaded 2-core machine. */
const PG_RACE_TIMEOUT_MS = 60_000

for (const engine of ENGINES) {
  describe.skipIf(engine === 'postgres' && skipUnlessPg('API-key store on PostgreSQL'))(engine, () => {
    let e: EngineDeps
    beforeEach(async () => {
      e = await engineDeps(engine)
    })
    afterEach(() => e.close())

    const workspace = async (slug = 'acme') => (await createWorkspace(e.deps, { slug })).id

    test('a created key is listed newest first, paged with a cursor, and found by id in its workspace only', async () => {
      const ws = await workspace()
      const other = await workspace('other')
      const first = await createKey(e.deps, { workspaceId: ws, kind: 'secret', name: 'first' })
      e.deps.clock.advance(1)
      const second = await createKey(e.deps, { workspaceId: ws, kind: 'publishable', allowedOrigins: ['https://a.example/'] })
      expect(second.record.allowedOrigins).toEqual(['https://a.example'])
      expect((await listKeys(e.deps, ws)).map((k) => k.id)).toEqual([second.record.id, first.record.id])
      expect(await getKey(e.deps, ws, first.record.id)).toEqual(first.record)
      await expect(getKey(e.deps, other, first.record.id)).rejects.toMatchObject({ code: 'not_found' })

      const page1 = await listKeysPage(e.deps, ws, parsePageQuery({ limit: '1' }))
      expect(page1.data).toEqual([serializeKey(second.record)])
      expect(page1.pagination).toMatchObject({ total: 2, has_more: true })
      const page2 = await listKeysPage(e.deps, ws, parsePageQuery({ limit: '1', after: page1.pagination.next_cursor! }))
      expect(page2.data.map((k) => k.id)).toEqual([first.record.id])
      expect(page2.pagination.has_more).toBe(false)
    })

    test('the same key registered twice is 409, never a storage error', async () => {
      const ws = await workspace()
      const preset = generateKey('secret')
      await createKey(e.deps, { workspaceId: ws, kind: 'secret' }, preset)
      const again = createKey(e.deps, { workspaceId: ws, kind: 'secret' }, preset)
      await expect(again).rejects.toBeInstanceOf(ApiError)
      await expect(again).rejects.toMatchObject({ code: 'conflict' })
      expect(await listKeys(e.deps, ws)).toHaveLength(1)
    })

    test('a key minted by a key holds no more than its creator', async () => {
      const ws = await workspace()
      const creator = await createKey(e.deps, { workspaceId: ws, kind: 'secret', scopes: ['keys:manage', 'leads:read'], rateLimit: 10 })
      const child = await createKeyFor(e.deps, { key: creator.record, defaultRateLimit: 100 }, { kind: 'secret' })
      expect(child.record.scopes).toEqual(['keys:manage', 'leads:read'])
      expect(child.record.rateLimit).toBe(10)
      await expect(createKeyFor(e.deps, { key: creator.record, defaultRateLimit: 100 }, { kind: 'secret', scopes: ['deals:write'] })).rejects.toMatchObject({
        code: 'insufficient_scope',
      })
    })

    test('revocation keeps its first time, is 404 across workspaces, and ends authentication', async () => {
      const ws = await workspace()
      const other = await workspace('other')
      const { record, key } = await createKey(e.deps, { workspaceId: ws, kind: 'secret' })
      expect('key' in (await authenticateKey(e.deps, key))).toBe(true)
      await expect(revokeKey(e.deps, other, record.id)).rejects.toMatchObject({ code: 'not_found' })
      await expect(revokeKey(e.deps, null, 'missing')).rejects.toMatchObject({ code: 'not_found' })
      const revokedAt = e.deps.clock.now()
      expect((await revokeKey(e.deps, ws, record.id)).revokedAt).toBe(revokedAt)
      e.deps.clock.advance(MINUTE)
      expect((await revokeKey(e.deps, null, record.id)).revokedAt).toBe(revokedAt)
      expect(await authenticateKey(e.deps, key)).toEqual({ failure: 'revoked' })
    })

    test('authentication: missing, malformed, unknown, expired; last_used_at written at most once a minute', async () => {
      const ws = await workspace()
      expect(await authenticateKey(e.deps, '')).toEqual({ failure: 'missing' })
      expect(await authenticateKey(e.deps, 'ask_sk_nonsense')).toEqual({ failure: 'malformed' })
      expect(await authenticateKey(e.deps, generateKey('secret'))).toEqual({ failure: 'unknown' })
      const expiring = await createKey(e.deps, { workspaceId: ws, kind: 'secret', expiresAt: e.deps.clock.now() + MINUTE })

      const t0 = e.deps.clock.now()
      const found = await authenticateKey(e.deps, expiring.key)
      expect('key' in found && found.key.lastUsedAt).toBe(t0)
      e.deps.clock.advance(MINUTE - 1)
      await authenticateKey(e.deps, expiring.key)
      expect((await getKey(e.deps, ws, expiring.record.id)).lastUsedAt).toBe(t0)
      e.deps.clock.advance(1)
      expect(await authenticateKey(e.deps, expiring.key)).toEqual({ failure: 'expired' })

      const live = await createKey(e.deps, { workspaceId: ws, kind: 'secret' })
      await authenticateKey(e.deps, live.key)
      e.deps.clock.advance(MINUTE)
      await authenticateKey(e.deps, live.key)
      expect((await getKey(e.deps, ws, live.record.id)).lastUsedAt).toBe(e.deps.clock.now())
    })

    if (engine !== 'postgres') return

    test(
      'three nodes registering one key 60 times at once: one key stored, every other attempt 409',
      async () => {
        const ws = await workspace()
        const nodes = [e.node(), e.node(), e.node()]
        const preset = generateKey('secret')
        const attempts = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => createKey(nodes[i % 3]!, { workspaceId: ws, kind: 'secret' }, preset)))
        expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1)
        const refusals = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected').map((a) => (a.reason as ApiError).code)
        expect(refusals).toEqual(Array(59).fill('conflict'))
        expect(await listKeys(e.deps, ws)).toHaveLength(1)
      },
      PG_RACE_TIMEOUT_MS,
    )

    test('a database that cannot take the last_used_at write still authenticates (bookkeeping only)', async () => {
      const ws = await workspace()
      const { record, key } = await createKey(e.deps, { workspaceId: ws, kind: 'secret' })
      const name = new URL(e.url!).pathname.slice(1)
      await e.deps.pg!.$client.unsafe(`ALTER DATABASE ${name} SET default_transaction_read_only = on`)
      // Settings apply to new connections: a node connecting now can read but not write.
      const readOnly = e.node()
      await expect(createKey(readOnly, { workspaceId: ws, kind: 'secret' })).rejects.toThrow()
      const found = await authenticateKey(readOnly, key)
      expect('key' in found && found.key.id).toBe(record.id)
      expect((await getKey(readOnly, ws, record.id)).lastUsedAt).toBeNull()
    })

    test(
      'revocation racing 300 authentications on three nodes: none waits on the other, none succeeds after the revocation committed',
      async () => {
        const ws = await workspace()
        const nodes = [e.node(), e.node(), e.node()]
        const { record, key } = await createKey(e.deps, { workspaceId: ws, kind: 'secret' })
        // Every authentication writes last_used_at (the clock moves a minute each time), so they contend with the revocation's row lock.
        const outcomes: { started: number; ok: boolean }[] = []
        let revokedAtWall = Number.POSITIVE_INFINITY
        const authenticate = async (i: number) => {
          await Bun.sleep(i % 30)
          e.deps.clock.advance(MINUTE)
          const started = performance.now()
          const result = await authenticateKey(nodes[i % 3]!, key)
          outcomes.push({ started, ok: 'key' in result })
        }
        const revoke = async () => {
          await Bun.sleep(10)
          await revokeKey(nodes[0]!, ws, record.id)
          revokedAtWall = performance.now()
        }
        await Promise.all([...Array.from({ length: 300 }, (_, i) => authenticate(i)), revoke()])
        expect(outcomes.filter((o) => o.started > revokedAtWall && o.ok)).toEqual([])
        expect(outcomes.some((o) => o.ok)).toBe(true)
        const stored = await getKey(e.deps, ws, record.id)
        // The bookkeeping writes never undid the revocation.
        expect(stored.revokedAt).not.toBeNull()
        expect(await authenticateKey(e.deps, key)).toEqual({ failure: 'revoked' })
      },
      PG_RACE_TIMEOUT_MS,
    )
  })
}
