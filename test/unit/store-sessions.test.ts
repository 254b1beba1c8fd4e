/** Dashboard sessions and the overview's figures (leads service) on both engines: the same test bodies. */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { contacts as pgContacts, counters as pgCounters, leads as pgLeads } from '../../src/db/pg/schema'
import { contacts, counters, leads } from '../../src/db/schema'
import { COUNTERS } from '../../src/db/tx'
import { createKey, revokeKey } from '../../src/modules/api-keys/service'
import { leadTotals, leadsBySource, leadsPerDay } from '../../src/modules/leads/service'
import { endSession, findSession, SESSION_IDLE_MS, signIn } from '../../src/modules/sessions/service'
import { createWorkspace } from '../../src/modules/workspaces/service'
import { ENGINES, engineDeps, type EngineDeps } from '../keys-engines'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const DAY = 24 * 60 * 60 * 1000

for (const engine of ENGINES) {
  describe.skipIf(engine === 'postgres' && skipUnlessPg('session store on PostgreSQL'))(engine, () => {
    let e: EngineDeps
    beforeEach(async () => {
      e = await engineDeps(engine)
    })
    afterEach(() => e.close())

    const token = async (presented: string) => {
      const result = await signIn(e.deps, presented)
      if (!('token' in result)) throw new Error(`sign-in failed: ${result.failure}`)
      return result.token
    }

    test('a session is found by its token, slides while used, ends after 12 h idle, at sign-out, or with its key', async () => {
      const ws = await createWorkspace(e.deps, { slug: 'acme' })
      const { record, key } = await createKey(e.deps, { workspaceId: ws.id, kind: 'secret' })
      const publishable = await createKey(e.deps, { workspaceId: ws.id, kind: 'publishable', allowedOrigins: ['https://a.example'] })
      const reader = await createKey(e.deps, { workspaceId: ws.id, kind: 'secret', scopes: ['leads:read'] })
      expect(await signIn(e.deps, publishable.key)).toEqual({ failure: 'publishable' })
      expect(await signIn(e.deps, reader.key)).toEqual({ failure: 'scope' })
      expect(await findSession(e.deps, 'not-a-token')).toBeNull()

      const idle = await token(key)
      const active = await findSession(e.deps, idle)
      expect(active?.key?.id).toBe(record.id)
      expect(active?.session.workspaceId).toBe(ws.id)
      e.deps.clock.advance(SESSION_IDLE_MS - 1)
      // Used just in time: the idle deadline moves forward.
      expect(await findSession(e.deps, idle)).not.toBeNull()
      e.deps.clock.advance(SESSION_IDLE_MS - 1)
      expect(await findSession(e.deps, idle)).not.toBeNull()
      e.deps.clock.advance(SESSION_IDLE_MS)
      expect(await findSession(e.deps, idle)).toBeNull()

      const signedOut = await token(key)
      await endSession(e.deps, signedOut)
      expect(await findSession(e.deps, signedOut)).toBeNull()

      const revoked = await token(key)
      await revokeKey(e.deps, ws.id, record.id)
      expect(await findSession(e.deps, revoked)).toBeNull()
    })

    test('overview figures: totals and sources from the counters, leads per UTC day over the last days only', async () => {
      const ws = await createWorkspace(e.deps, { slug: 'acme' })
      const now = e.deps.clock.now()
      const today = Math.floor(now / DAY) * DAY
      // Three leads three days ago, one before the window, two today: inserted as the lead service stores them.
      const times = [today - 40 * DAY, today - 3 * DAY, today - 3 * DAY + 5, today - 3 * DAY + 9, today + 1, now]
      const sources = ['web', 'web', 'fair', 'web', 'fair', 'web']
      const contact = {
        id: 'c1',
        workspaceId: ws.id,
        seq: 1,
        sourceSeq: 1,
        firstSource: 'web',
        lastSource: 'web',
        metadata: {},
        createdAt: times[0]!,
        updatedAt: now,
      }
      const rows = times.map((createdAt, i) => ({
        id: `l${i}`,
        workspaceId: ws.id,
        contactId: 'c1',
        seq: i + 1,
        sourceSeq: sources.slice(0, i + 1).filter((s) => s === sources[i]).length,
        channel: 'inbound' as const,
        source: sources[i]!,
        metadata: {},
        createdAt,
      }))
      const kept = [
        { workspaceId: ws.id, name: COUNTERS.leads, value: 6 },
        { workspaceId: ws.id, name: COUNTERS.contacts, value: 1 },
        { workspaceId: ws.id, name: COUNTERS.leadsFromSource('web'), value: 4 },
        { workspaceId: ws.id, name: COUNTERS.leadsFromSource('fair'), value: 2 },
      ]
      if (e.deps.pg) {
        await e.deps.pg.insert(pgContacts).values(contact)
        await e.deps.pg.insert(pgLeads).values(rows)
        await e.deps.pg.insert(pgCounters).values(kept)
      } else {
        e.deps.db.insert(contacts).values(contact).run()
        e.deps.db.insert(leads).values(rows).run()
        e.deps.db.insert(counters).values(kept).run()
      }

      expect(await leadTotals(e.deps, ws.id)).toEqual({ leads: 6, contacts: 1 })
      expect(await leadsBySource(e.deps, ws.id)).toEqual([
        { source: 'web', count: 4 },
        { source: 'fair', count: 2 },
      ])
      const days = await leadsPerDay(e.deps, ws.id, now, 30)
      expect(days).toHaveLength(30)
      expect(days.at(-1)).toEqual({ day: new Date(today).toISOString().slice(0, 10), count: 2 })
      expect(days.at(-4)).toEqual({ day: new Date(today - 3 * DAY).toISOString().slice(0, 10), count: 3 })
      expect(days.reduce((n, d) => n + d.count, 0)).toBe(5)
      const empty = await createWorkspace(e.deps, { slug: 'empty' })
      expect((await leadsPerDay(e.deps, empty.id, now, 7)).map((d) => d.count)).toEqual(Array(7).fill(0))
      expect(await leadTotals(e.deps, empty.id)).toEqual({ leads: 0, contacts: 0 })
    })
  })
}
