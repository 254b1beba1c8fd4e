/**
 * What SQLite's single writer hid, proven on PostgreSQL with real parallel transactions from three
 * pools (three nodes): concurrent leads make one contact per email and phone with dense sequences
 * and no deadlock; concurrent conversions make one deal; concurrent closes emit once; concurrent
 * contact edits neither lose updates nor answer a unique violation with a 500.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ApiError } from '../../src/errors'
import { getContact, updateContact } from '../../src/modules/contacts/service'
import { createDeal, updateDeal } from '../../src/modules/deals/service'
import { convertLead, createLead, type LeadDeps } from '../../src/modules/leads/service'
import { openEngine, type EngineFixture } from '../engine-fixture'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const NODES = 3
const LEADS = 500
const EMAILS = 50
const PHONES = 10
const PHONE_ONLY_LEADS = 100
const SOURCES = ['web', 'ads', 'api']

/** Values 1..n in order: what a dense sequence sorts to. */
const dense = (n: number) => Array.from({ length: n }, (_, i) => i + 1)

/** Runs `count` calls at once, spread round-robin over the nodes. */
function atOnce<T>(nodes: LeadDeps[], count: number, call: (deps: LeadDeps, i: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  return Promise.allSettled(Array.from({ length: count }, (_, i) => call(nodes[i % nodes.length]!, i)))
}

/** An enabled webhook endpoint of the workspace subscribed to `events` (all when empty); its id. */
async function addEndpoint(f: EngineFixture, workspaceId: string, events: string[] = []): Promise<string> {
  const id = `ep-${crypto.randomUUID()}`
  await f.exec(
    "INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, created_at, updated_at) VALUES (?, ?, 'http://127.0.0.1:1/', ?, 's', 1, 1)",
    id,
    workspaceId,
    JSON.stringify(events),
  )
  return id
}

for (const engine of ['postgres'] as const) {
  const skip = engine === 'postgres' && skipUnlessPg('concurrent ingest writers on PostgreSQL')

  describe.skipIf(skip)(`concurrent ingest writers on ${engine}`, () => {
    let fixture: EngineFixture
    beforeAll(async () => {
      fixture = await openEngine(engine)
    })
    afterAll(() => fixture?.close())
    const f = () => fixture
    /** Rows of a read-only query (integers CAST: PostgreSQL returns int8 as text). */
    const rows = async <T>(query: string) => (await fixture.exec(query)) as T[]
    /** Runs `holding` in a transaction of its own on a reserved connection; `commit` ends it once a lead is seen waiting on a lock it holds. */
    async function heldTransaction(holding: (sql: Bun.SQL) => Promise<unknown>) {
      const pool = f().nodes(1)[0]!.pg!
      const conn = await pool.$client.reserve()
      await conn`BEGIN`
      await holding(conn)
      return {
        async commitOnceBlocked() {
          for (let i = 0; i < 200; i++) {
            const [{ n }] = await pool.$client`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`
            if (n > 0) break
            await Bun.sleep(10)
          }
          await conn`COMMIT`
          conn.release()
        },
      }
    }

    test('a contact edited while a lead waited for it no longer matches: the lead looks again', async () => {
      const ws = await f().workspace()
      const { contactId } = await createLead(f().deps, ws, 'inbound', { phone: '5550777', source: 'api', metadata: {} })
      // An edit (as a PATCH would make it) gives the phone-only contact an email while holding its row.
      const edit = await heldTransaction((sql) => sql`UPDATE contacts SET email = 'someone-else@example.com' WHERE id = ${contactId}`)
      const arriving = createLead(f().nodes(1)[0]!, ws, 'inbound', { email: 'new@example.com', phone: '5550777', source: 'api', metadata: {} })
      await edit.commitOnceBlocked()
      const lead = await arriving
      // Found first as the phone-only contact; by the time it got the row, that one had another email.
      expect(lead.contactId).not.toBe(contactId)
      expect((await getContact(f().deps, ws, contactId)).leadCount).toBe(1)
    })

    test('a contact inserted past the locks makes the lead run again on it, and the contact counter stays dense', async () => {
      const ws = await f().workspace()
      await createLead(f().deps, ws, 'inbound', { email: 'first@example.com', source: 'api', metadata: {} })
      // A writer that skipped the advisory lock: its new contact is not committed when the lead looks.
      const bypass = await heldTransaction(async (sql) => {
        await sql`UPDATE counters SET value = value + 1 WHERE workspace_id = ${ws} AND name IN ('contacts', 'contacts:source:api')`
        await sql`INSERT INTO contacts (id, workspace_id, seq, source_seq, email, first_source, last_source, metadata, lead_count, created_at, updated_at)
          VALUES ('bypass', ${ws}, 2, 2, 'raced@example.com', 'api', 'api', '{}', 0, 1, 1)`
      })
      const arriving = createLead(f().nodes(1)[0]!, ws, 'inbound', { email: 'raced@example.com', source: 'api', metadata: {} })
      await bypass.commitOnceBlocked()
      const lead = await arriving
      expect(lead.contactId).toBe('bypass')
      const seqs = await rows<{ seq: number }>(`SELECT CAST(seq AS integer) AS seq FROM contacts WHERE workspace_id = '${ws}' ORDER BY seq`)
      expect(seqs.map((r) => r.seq)).toEqual([1, 2])
      const [{ value }] = await rows<{ value: number }>(
        `SELECT CAST(value AS integer) AS value FROM counters WHERE workspace_id = '${ws}' AND name = 'contacts'`,
      )
      expect(value).toBe(2)
    })

    test(`${LEADS} leads at once over ${NODES} nodes: one contact per email and phone, dense sequences, no error`, async () => {
      const ws = await f().workspace()
      await addEndpoint(f(), ws)
      const nodes = f().nodes(NODES)
      const started = performance.now()
      const results = await atOnce(nodes, LEADS, (deps, i) => {
        const source = SOURCES[i % SOURCES.length]!
        if (i < PHONE_ONLY_LEADS) return createLead(deps, ws, 'inbound', { phone: `+1 555 01${String(i % PHONES).padStart(2, '0')}`, source, metadata: { i } })
        // The same address in different spellings: matching is by the normalised form.
        const n = i % EMAILS
        return createLead(deps, ws, 'capture', { email: i % 2 ? `Person${n}@Example.com` : ` person${n}@example.com`, source, metadata: { i } })
      })
      const seconds = (performance.now() - started) / 1000
      console.info(`${LEADS} leads over ${NODES} nodes in ${seconds.toFixed(2)} s: ${Math.round(LEADS / seconds)} leads/s`)
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([])

      const contacts = await rows<{
        email: string | null
        phone: string | null
        lead_count: number
        seq: number
        first_source: string
        source_seq: number
      }>(
        `SELECT email, phone, lead_count, CAST(seq AS integer) AS seq, first_source, CAST(source_seq AS integer) AS source_seq FROM contacts WHERE workspace_id = '${ws}'`,
      )
      expect(contacts).toHaveLength(EMAILS + PHONES)
      expect(new Set(contacts.filter((c) => c.email).map((c) => c.email)).size).toBe(EMAILS)
      expect(new Set(contacts.filter((c) => !c.email).map((c) => c.phone)).size).toBe(PHONES)
      for (const c of contacts) expect(c.lead_count).toBe(c.email ? (LEADS - PHONE_ONLY_LEADS) / EMAILS : PHONE_ONLY_LEADS / PHONES)
      expect(contacts.map((c) => c.seq).sort((a, b) => a - b)).toEqual(dense(EMAILS + PHONES))
      for (const source of SOURCES) {
        const seqs = contacts.filter((c) => c.first_source === source).map((c) => c.source_seq)
        expect(seqs.sort((a, b) => a - b)).toEqual(dense(seqs.length))
      }

      const leads = await rows<{ seq: number; source: string; source_seq: number }>(
        `SELECT CAST(seq AS integer) AS seq, source, CAST(source_seq AS integer) AS source_seq FROM leads WHERE workspace_id = '${ws}'`,
      )
      expect(leads.map((l) => l.seq).sort((a, b) => a - b)).toEqual(dense(LEADS))
      for (const source of SOURCES) {
        const seqs = leads.filter((l) => l.source === source).map((l) => l.source_seq)
        expect(seqs.sort((a, b) => a - b)).toEqual(dense(seqs.length))
      }
      const counters = await rows<{ name: string; value: number }>(`SELECT name, CAST(value AS integer) AS value FROM counters WHERE workspace_id = '${ws}'`)
      expect(Object.fromEntries(counters.map((c) => [c.name, c.value]))).toMatchObject({ leads: LEADS, contacts: EMAILS + PHONES })
      const [{ events, deliveries }] = await rows<{ events: number; deliveries: number }>(
        `SELECT (SELECT CAST(count(*) AS integer) FROM events WHERE workspace_id = '${ws}') AS events,
                (SELECT CAST(count(*) AS integer) FROM webhook_deliveries WHERE workspace_id = '${ws}') AS deliveries`,
      )
      expect({ events, deliveries }).toEqual({ events: LEADS, deliveries: LEADS })
    })

    test('50 conversions of one lead at once: one deal, one lead.converted, the rest return it', async () => {
      const ws = await f().workspace()
      const lead = await createLead(f().deps, ws, 'inbound', { email: 'convert@example.com', source: 'api', metadata: {} })
      const results = await atOnce(f().nodes(NODES), 50, (deps) => convertLead(deps, ws, lead.id, { stage: 'won' }))
      const done = results.map((r) => {
        if (r.status === 'rejected') throw r.reason
        return r.value
      })
      expect(done.filter((r) => r.created)).toHaveLength(1)
      expect(new Set(done.map((r) => r.deal.id)).size).toBe(1)
      const events = await rows<{ type: string }>(`SELECT type FROM events WHERE workspace_id = '${ws}' AND type <> 'lead.created' ORDER BY type`)
      expect(events.map((e) => e.type)).toEqual(['deal.closed', 'lead.converted'])
      const [{ n }] = await rows<{ n: number }>(`SELECT CAST(count(*) AS integer) AS n FROM deals WHERE workspace_id = '${ws}'`)
      expect(n).toBe(1)
    })

    test('30 moves of one deal to won at once: deal.closed once', async () => {
      const ws = await f().workspace()
      const deal = await createDeal(f().deps, ws, { title: 'Race', stage: 'negotiation' })
      const results = await atOnce(f().nodes(NODES), 30, (deps, i) => updateDeal(deps, ws, deal.id, { stage: 'won', metadata: { [`k${i}`]: i } }))
      expect(results.filter((r) => r.status === 'rejected')).toEqual([])
      const events = await rows<{ type: string }>(`SELECT type FROM events WHERE workspace_id = '${ws}'`)
      expect(events.map((e) => e.type)).toEqual(['deal.closed'])
      // Every edit merged into what the one before it wrote: none lost.
      const [{ metadata }] = await rows<{ metadata: string }>(`SELECT metadata FROM deals WHERE id = '${deal.id}'`)
      expect(Object.keys(JSON.parse(metadata))).toHaveLength(30)
    })

    test('contact edits at once: one email for one contact (the rest 409, never a 500), no metadata lost', async () => {
      const ws = await f().workspace()
      const nodes = f().nodes(NODES)
      const phoneOnly = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          createLead(f().deps, ws, 'inbound', { phone: `+4670000${String(i).padStart(2, '0')}`, source: 'api', metadata: {} }),
        ),
      )
      const claims = await atOnce(nodes, phoneOnly.length, (deps, i) => updateContact(deps, ws, phoneOnly[i]!.contactId, { email: 'wanted@example.com' }))
      expect(claims.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      for (const r of claims.filter((r) => r.status === 'rejected')) {
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ApiError)
        expect((r as PromiseRejectedResult).reason).toMatchObject({ status: 409 })
      }

      const target = phoneOnly[0]!.contactId
      const merges = await atOnce(nodes, 20, (deps, i) => updateContact(deps, ws, target, { metadata: { [`k${i}`]: i } }))
      expect(merges.filter((r) => r.status === 'rejected')).toEqual([])
      expect(Object.keys((await getContact(f().deps, ws, target)).metadata)).toHaveLength(20)
    })

    test('an edit claiming an email while leads with it arrive: still one contact with it, every lead on it', async () => {
      const ws = await f().workspace()
      const nodes = f().nodes(NODES)
      const { contactId } = await createLead(f().deps, ws, 'inbound', { phone: '5550999', source: 'api', metadata: {} })
      const [claim, ...leads] = await Promise.allSettled([
        updateContact(nodes[0]!, ws, contactId, { email: 'claimed@example.com' }),
        ...Array.from({ length: 30 }, (_, i) => createLead(nodes[i % NODES]!, ws, 'inbound', { email: 'claimed@example.com', source: 'api', metadata: {} })),
      ])
      expect(leads.filter((r) => r.status === 'rejected')).toEqual([])
      if (claim!.status === 'rejected') expect(claim!.reason).toMatchObject({ status: 409 })
      const holders = await rows<{ id: string; lead_count: number }>(
        `SELECT id, lead_count FROM contacts WHERE workspace_id = '${ws}' AND email = 'claimed@example.com'`,
      )
      expect(holders).toHaveLength(1)
      const [{ n }] = await rows<{ n: number }>(`SELECT CAST(count(*) AS integer) AS n FROM leads WHERE contact_id = '${holders[0]!.id}'`)
      expect(n).toBe(holders[0]!.lead_count)
      expect(n).toBe(claim!.status === 'fulfilled' ? 31 : 30)
    })
  })
}
