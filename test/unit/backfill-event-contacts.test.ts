/**
 * Migration 0007: events stored before `events.contact_id` existed get their contact from the
 * payload, so erasing that contact redacts them too. Run on both engines against events as the
 * API stores them, with the column cleared the way an upgraded database has it.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { embeddedMigrations as sqliteMigrations } from '../../src/db/migrations.gen'
import { embeddedMigrations as pgMigrations } from '../../src/db/pg/migrations.gen'
import { createHarness, type Harness } from '../helpers'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const TAG = '0007_backfill_event_contacts'

for (const engine of ['sqlite', 'postgres'] as const) {
  describe.skipIf(engine === 'postgres' && skipUnlessPg('the event backfill on PostgreSQL'))(`on ${engine}`, () => {
    let h: Harness
    afterAll(() => h?.close())

    test('lead.created, lead.converted and deal.closed events find their contact again; others stay without one', async () => {
      h = createHarness({ engine })
      const ws = await h.workspace()
      const lead = await h.pushLead(ws.key, { email: 'old.event@example.com' })
      const converted = await h.request('POST', `/api/v1/leads/${lead.id}/convert`, {
        key: ws.key,
        body: { title: 'Old deal', value: 10, currency: 'EUR', stage: 'won' },
      })
      expect(converted.status).toBe(201)
      const campaign = await (
        await h.request('POST', '/api/v1/campaigns', { key: ws.key, body: { name: 'Spring', currency: 'EUR', spend_thresholds: [1] } })
      ).json()
      expect((await h.request('POST', `/api/v1/campaigns/${campaign.id}/spend`, { key: ws.key, body: { amount: 2 } })).status).toBe(200)

      const events = await h.rows.all('events', { workspaceId: ws.id })
      expect(events.map((e) => e.type).sort()).toEqual(['campaign.spend_threshold', 'deal.closed', 'lead.converted', 'lead.created'])
      for (const e of events) await h.rows.update('events', { id: e.id }, { contactId: null })

      const migration = (engine === 'postgres' ? pgMigrations : sqliteMigrations).find((m) => m.tag === TAG)!
      if (h.deps.pg) await h.deps.pg.$client.unsafe(migration.sql)
      else h.db.$client.run(migration.sql)

      const after = await h.rows.all('events', { workspaceId: ws.id })
      expect(Object.fromEntries(after.map((e) => [e.type, e.contactId]))).toEqual({
        'lead.created': lead.contact_id,
        'lead.converted': lead.contact_id,
        'deal.closed': lead.contact_id,
        'campaign.spend_threshold': null,
      })
    })
  })
}
