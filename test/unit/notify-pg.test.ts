/** The PostgreSQL wake-up between nodes when the database cannot be reached: the dispatcher starts anyway and keeps trying. */
import { expect, test } from 'bun:test'
import { openPg } from '../../src/db/pg/client'
import { createLogger } from '../../src/lib/logger'
import { createNotifier } from '../../src/workers/notify.pg'
import { useTestTimeout } from '../timeout'

useTestTimeout()

test('a LISTEN that cannot connect is logged and retried later instead of failing the start; close stops the retries', async () => {
  const logs: string[] = []
  // Port 9 on 127.0.0.1 (discard) has no PostgreSQL: the connection is refused at once.
  const pg = openPg('postgres://postgres@127.0.0.1:9/askad', { max: 1 })
  const notifier = createNotifier(
    pg,
    createLogger('info', (line) => logs.push(line)),
    'node-a:1:a',
  )
  try {
    await notifier.listen(() => {})
    expect(logs.some((line) => line.includes('webhook.listen_failed') && line.includes('"retry_ms":5000'))).toBe(true)
  } finally {
    await notifier.close()
    await pg.$client.close()
  }
})
