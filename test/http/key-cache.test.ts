/**
 * Authenticated keys are remembered between requests (SQLite: per database, checked against
 * `PRAGMA data_version`); a revocation or expiry must still take effect on the very next request,
 * whether it came through the API, another process on the same file, or the clock.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { openDb } from '../../src/db/client'
import { apiKeys } from '../../src/db/schema'
import { createHarness, type Harness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

let h: Harness
beforeEach(() => {
  h = createHarness()
})
afterEach(() => h.close())

const me = (key: string) => h.request('GET', '/api/v1/leads', { key })

describe('a key used once and then', () => {
  test('revoked through the API is refused on its next request', async () => {
    const ws = await h.workspace()
    const other = await h.key(ws.id)
    expect((await me(other.key)).status).toBe(200)
    expect((await h.request('DELETE', `/api/v1/api-keys/${other.id}`, { key: ws.key })).status).toBe(200)
    expect((await me(other.key)).status).toBe(401)
    // The revoking key itself, remembered too, still works.
    expect((await me(ws.key)).status).toBe(200)
  })

  test('revoked by another process on the same database is refused on its next request', async () => {
    const ws = await h.workspace()
    for (let i = 0; i < 3; i++) expect((await me(ws.key)).status).toBe(200)
    const revokedAt = h.clock.now() - 1
    if (h.engine === 'sqlite') {
      // Another connection, as `askad key revoke` in another process would be.
      const cli = openDb(h.dbPath)
      cli.update(apiKeys).set({ revokedAt }).where(eq(apiKeys.id, ws.keyId)).run()
      cli.$client.close()
    } else await h.rows.update('apiKeys', { id: ws.keyId }, { revokedAt })
    // Another process's change is seen within a millisecond (the data_version read is shared that long).
    await Bun.sleep(2)
    const res = await me(ws.key)
    expect(res.status).toBe(401)
    expect((await res.json()).detail).toContain('revoked')
  })

  test('expired meanwhile is refused on its next request', async () => {
    const ws = await h.workspace()
    const short = await h.key(ws.id, { expiresAt: h.clock.now() + 60_000 })
    expect((await me(short.key)).status).toBe(200)
    h.clock.advance(60_000)
    const res = await me(short.key)
    expect(res.status).toBe(401)
    expect((await res.json()).detail).toContain('expired')
  })
})
