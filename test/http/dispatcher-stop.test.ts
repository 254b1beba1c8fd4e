/** Dispatcher stop(): attempts get a bounded grace, then are cut off unrecorded with their leases freed for the next process. */
import { afterEach, expect, test } from 'bun:test'
import { startDispatcher } from '../../src/workers/dispatcher'
import { createHarness, type Harness } from '../helpers'
import { startReceiver, until, type Receiver } from '../webhooks-helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

/** Grace given to stop() here; the production default is SHUTDOWN_GRACE_MS. */
const GRACE_MS = 200

let h: Harness | undefined
let rx: Receiver | undefined
afterEach(() => {
  rx?.stop()
  h?.close()
})

test('stop() with a hanging receiver: returns after the grace, records no attempt, frees the lease; a finished attempt is kept', async () => {
  h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
  const ws = await h.workspace()
  // /fast answers at once; /hang never does.
  rx = startReceiver((req) => (req.path === '/hang' ? new Promise<Response>(() => {}) : new Response(null, { status: 204 })))
  for (const path of ['/fast', '/hang']) {
    const res = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: `${rx.url}${path}` } })
    expect(res.status).toBe(201)
  }
  const dispatcher = startDispatcher(h.deps, { random: () => 0.5 })
  await h.emit(ws.id, 'lead.created')
  dispatcher.wake()
  await until(() => rx!.requests.length === 2, 5_000, 'both attempts')
  await until(async () => (await h!.rows.count('webhookAttempts')) === 1, 5_000, 'the fast attempt recorded')

  const started = performance.now()
  await dispatcher.stop(GRACE_MS)
  const took = performance.now() - started
  expect(took).toBeGreaterThanOrEqual(GRACE_MS - 5)
  expect(took).toBeLessThan(GRACE_MS + 1_000)

  const deliveries = await h.rows.all('webhookDeliveries')
  const hanging = deliveries.find((d) => d.status === 'pending')!
  expect(deliveries.map((d) => d.status).sort()).toEqual(['pending', 'succeeded'])
  expect(hanging).toMatchObject({ attemptCount: 0, leaseUntil: null, leaseOwner: null, nextAttemptAt: h.clock.now() })
  expect(await h.rows.count('webhookAttempts')).toBe(1)
}, 20_000)
