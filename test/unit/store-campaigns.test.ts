/**
 * The campaigns store's contract on both engines, through the service: the same bodies on SQLite
 * and PostgreSQL; on PostgreSQL also 200 spend reports racing from three nodes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ApiError } from '../../src/errors'
import { createCampaign, getCampaign, listCampaigns, recordSpend, updateCampaign } from '../../src/modules/campaigns/service'
import { ENGINES, openEngine, type EngineFixture } from '../engine-fixture'
import { skipUnlessPg } from '../pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const FIRST_PAGE = { page: 1, limit: 50, afterSeq: null }

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`)
  return error
}

/** The thresholds of `campaign.spend_threshold` events of a campaign, in the order they were recorded. */
async function thresholdEvents(f: EngineFixture, campaignId: string): Promise<number[]> {
  const rows = await f.exec("SELECT payload FROM events WHERE type = 'campaign.spend_threshold' ORDER BY created_at, id")
  return rows
    .map((r) => JSON.parse(String(r.payload)).data)
    .filter((d) => d.campaign.id === campaignId)
    .map((d) => d.threshold)
    .sort((a: number, b: number) => a - b)
}

for (const engine of ENGINES) {
  const skip = engine === 'postgres' && skipUnlessPg('campaigns store contract on PostgreSQL')

  describe.skipIf(skip)(`campaigns store on ${engine}`, () => {
    let f: EngineFixture
    beforeAll(async () => {
      f = await openEngine(engine)
    })
    afterAll(() => f?.close())

    test('create, get and list, newest first; the answer is the idempotent answer', async () => {
      const ws = await f.workspace()
      let answered: unknown
      const deps = {
        ...f.deps,
        storeAnswer: (_tx: unknown, v: unknown) => void (answered = v),
        storePgAnswer: async (_tx: unknown, v: unknown) => void (answered = v),
      }
      const a = await createCampaign(deps, ws, { name: 'Spring', currency: 'USD', budget: 1000.5, spend_thresholds: [500, 100, 100] })
      expect(answered).toEqual(a)
      expect(a).toMatchObject({ currency: 'USD', budgetMinor: 100050, spendMinor: 0, spendThresholdsMinor: [10000, 50000], thresholdsCrossedMinor: [] })
      const b = await createCampaign(f.deps, ws, { name: 'Summer', currency: 'EUR' })
      expect(await getCampaign(f.deps, ws, a.id)).toEqual(a)
      const page = await listCampaigns(f.deps, ws, FIRST_PAGE)
      expect(page.data.map((c) => c.id)).toEqual([b.id, a.id])
      expect(page.data[1]).toMatchObject({ name: 'Spring', budget: 1000.5, spend: 0, spend_thresholds: [100, 500] })
      const cursor = await listCampaigns(f.deps, ws, { page: 1, limit: 1, afterSeq: null })
      expect([cursor.data.map((c) => c.id), cursor.pagination.has_more]).toEqual([[b.id], true])
    })

    test('another workspace, an unknown id and an id with U+0000 are 404', async () => {
      const ws = await f.workspace()
      const c = await createCampaign(f.deps, ws, { name: 'Mine', currency: 'USD' })
      const other = await f.workspace()
      for (const [w, id] of [
        [other, c.id],
        [ws, 'nope'],
        [ws, 'a\0b'],
      ] as const) {
        for (const call of [
          () => getCampaign(f.deps, w, id),
          () => updateCampaign(f.deps, w, id, { name: 'x' }),
          () => recordSpend(f.deps, w, id, { amount: 1 }),
        ]) {
          expect((await refusal(call())).status).toBe(404)
        }
      }
      expect(await getCampaign(f.deps, ws, c.id)).toEqual(c)
    })

    test('spend adds up; a lower total is a 409; each threshold fires once, even removed and added again', async () => {
      const ws = await f.workspace()
      const c = await createCampaign(f.deps, ws, { name: 'Thresholds', currency: 'USD', spend_thresholds: [100, 250] })
      let answered: unknown
      const deps = {
        ...f.deps,
        storeAnswer: (_tx: unknown, v: unknown) => void (answered = v),
        storePgAnswer: async (_tx: unknown, v: unknown) => void (answered = v),
      }
      const wakes = f.woken()
      const spent = await recordSpend(deps, ws, c.id, { amount: 120 })
      expect(answered).toEqual(spent)
      expect(spent).toMatchObject({ spendMinor: 12000, thresholdsCrossedMinor: [10000] })
      expect(await thresholdEvents(f, c.id)).toEqual([100])
      // No endpoint subscribes: nothing queued, nothing to wake.
      expect(f.woken()).toBe(wakes)

      const lower = await refusal(recordSpend(f.deps, ws, c.id, { total: 100 }))
      expect([lower.status, lower.detail]).toEqual([
        409,
        'total 100 is below the current spend 120; spend only grows (send a total at least the current spend).',
      ])
      expect((await refusal(recordSpend(f.deps, ws, c.id, { amount: 1, total: 2 }))).status).toBe(422)
      expect((await refusal(recordSpend(f.deps, ws, c.id, { amount: 0 }))).status).toBe(422)
      expect((await refusal(recordSpend(f.deps, ws, c.id, { total: Number.MAX_SAFE_INTEGER / 10 }))).status).toBe(422)
      expect((await getCampaign(f.deps, ws, c.id)).spendMinor).toBe(12000)

      await recordSpend(f.deps, ws, c.id, { total: 300 })
      expect(await thresholdEvents(f, c.id)).toEqual([100, 250])
      const moved = await updateCampaign(f.deps, ws, c.id, { spend_thresholds: [250, 280, 400], name: 'Moved' })
      expect(moved).toMatchObject({ name: 'Moved', spendThresholdsMinor: [25000, 28000, 40000], thresholdsCrossedMinor: [10000, 25000, 28000] })
      expect(await thresholdEvents(f, c.id)).toEqual([100, 250, 280])
      await updateCampaign(f.deps, ws, c.id, { spend_thresholds: [100, 400] })
      await recordSpend(f.deps, ws, c.id, { amount: 100 })
      expect(await thresholdEvents(f, c.id)).toEqual([100, 250, 280, 400])
      const [event] = await f.exec(
        "SELECT payload FROM events WHERE type = 'campaign.spend_threshold' AND payload LIKE ? ORDER BY created_at DESC LIMIT 1",
        '%"threshold":400%',
      )
      expect(JSON.parse(String(event!.payload)).data).toMatchObject({
        threshold: 400,
        spend: 400,
        campaign: { id: c.id, spend: 400, thresholds_crossed: [100, 400] },
      })
    })
  })
}

describe.skipIf(skipUnlessPg('campaign spend across PostgreSQL nodes'))('campaign spend across nodes on PostgreSQL', () => {
  test('200 concurrent spend reports from 3 nodes: the exact total, each threshold fired once', async () => {
    const f = await openEngine('postgres')
    try {
      const nodes = f.nodes(3)
      const ws = await f.workspace()
      const c = await createCampaign(f.deps, ws, { name: 'Race', currency: 'USD', spend_thresholds: [1, 50, 99.99, 100, 150, 199.5, 200, 201] })
      const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => recordSpend(nodes[i % 3]!, ws, c.id, { amount: 1 })))
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([])
      const final = await getCampaign(f.deps, ws, c.id)
      expect(final.spendMinor).toBe(20000)
      expect(final.thresholdsCrossedMinor).toEqual([100, 5000, 9999, 10000, 15000, 19950, 20000])
      expect(await thresholdEvents(f, c.id)).toEqual([1, 50, 99.99, 100, 150, 199.5, 200])
    } finally {
      await f.close()
    }
  }, 60_000)
})
