/** The workspace store and the first-start bootstrap on both engines; on PostgreSQL also with nodes starting together. */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { generateKey } from '../../src/lib/keys'
import { authenticateKey, listKeys } from '../../src/modules/api-keys/service'
import { bootstrap, createWorkspace, findWorkspace, listWorkspaces } from '../../src/modules/workspaces/service'
import { ENGINES, engineDeps, type EngineDeps } from '../keys-engines'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

/** Races on PostgreSQL open several pools and databases: generous on a loaded 2-core machine. */
const PG_RACE_TIMEOUT_MS = 60_000

for (const engine of ENGINES) {
  describe.skipIf(engine === 'postgres' && skipUnlessPg('workspace store on PostgreSQL'))(engine, () => {
    let e: EngineDeps
    beforeEach(async () => {
      e = await engineDeps(engine)
    })
    afterEach(() => e.close())

    test('created workspaces are found by slug or id and listed oldest first; a taken slug is 409, a bad one 422', async () => {
      const a = await createWorkspace(e.deps, { slug: ' Acme ', name: 'Acme Inc.' })
      e.deps.clock.advance(1)
      const b = await createWorkspace(e.deps, { slug: 'beta' })
      expect(a).toMatchObject({ slug: 'acme', name: 'Acme Inc.' })
      expect(b.name).toBe('beta')
      expect(await findWorkspace(e.deps, 'acme')).toEqual(a)
      expect(await findWorkspace(e.deps, b.id)).toEqual(b)
      expect(await findWorkspace(e.deps, 'nope')).toBeUndefined()
      expect((await listWorkspaces(e.deps)).map((w) => w.slug)).toEqual(['acme', 'beta'])
      await expect(createWorkspace(e.deps, { slug: 'acme' })).rejects.toMatchObject({ code: 'conflict' })
      await expect(createWorkspace(e.deps, { slug: '-bad' })).rejects.toMatchObject({ code: 'validation_failed' })
      expect(await listWorkspaces(e.deps)).toHaveLength(2)
    })

    test('bootstrap fills an empty database once, with the given key; later starts change nothing, even with a bad key', async () => {
      const given = generateKey('secret')
      const first = await bootstrap(e.deps, given)
      expect(first?.workspace.slug).toBe('default')
      expect(first?.created.key).toBe(given)
      expect('key' in (await authenticateKey(e.deps, given))).toBe(true)
      expect(await bootstrap(e.deps)).toBeNull()
      expect(await bootstrap(e.deps, 'ask_sk_not-a-key')).toBeNull()
      expect(await listWorkspaces(e.deps)).toHaveLength(1)
    })

    test('bootstrap with a malformed key on an empty database is refused and stores nothing', async () => {
      await expect(bootstrap(e.deps, 'ask_sk_not-a-key')).rejects.toMatchObject({ code: 'bad_request' })
      expect(await listWorkspaces(e.deps)).toEqual([])
    })

    if (engine !== 'postgres') return

    test(
      'three nodes bootstrapping an empty database at once, five times over: one workspace and one key each time',
      async () => {
        for (let round = 0; round < 5; round++) {
          const fresh = await engineDeps('postgres')
          try {
            const nodes = [fresh.node(), fresh.node(), fresh.node()]
            const outcomes = await Promise.all(nodes.map((node) => bootstrap(node)))
            expect(outcomes.filter((o) => o !== null)).toHaveLength(1)
            const workspaces = await listWorkspaces(fresh.deps)
            expect(workspaces.map((w) => w.slug)).toEqual(['default'])
            expect(await listKeys(fresh.deps, workspaces[0]!.id)).toHaveLength(1)
          } finally {
            await fresh.close()
          }
        }
      },
      PG_RACE_TIMEOUT_MS,
    )

    test(
      'twenty creations of one slug on three nodes at once: one workspace, every other attempt 409',
      async () => {
        const nodes = [e.node(), e.node(), e.node()]
        const attempts = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => createWorkspace(nodes[i % 3]!, { slug: 'race' })))
        expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1)
        expect(attempts.filter((a) => a.status === 'rejected').map((a) => (a as PromiseRejectedResult).reason.code)).toEqual(Array(19).fill('conflict'))
        expect(await listWorkspaces(e.deps)).toHaveLength(1)
      },
      PG_RACE_TIMEOUT_MS,
    )
  })
}
