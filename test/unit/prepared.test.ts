/** The drizzle adapter of prepared.ts: the private session it keys its cache on is there, and shared by a database and its transactions. */
import { afterAll, expect, test } from 'bun:test'
import { prepared, sessionOf } from '../../src/db/prepared'
import { writeTx } from '../../src/db/tx'
import { createHarness } from '../helpers'

const h = createHarness()
afterAll(() => h.close())

test('drizzle exposes one session per connection, the same inside its transactions', () => {
  const outside = sessionOf(h.db)
  expect(typeof outside).toBe('object')
  writeTx(h.db, (tx) => expect(sessionOf(tx)).toBe(outside))
})

test('a query prepared on the database is reused inside a transaction, not built again', () => {
  let builds = 0
  const build = () => {
    builds++
    return h.db.$client.prepare('select 1 as one')
  }
  const first = prepared(h.db, 'test.prepared.one', build)
  writeTx(h.db, (tx) => expect(prepared(tx, 'test.prepared.one', build)).toBe(first))
  expect(builds).toBe(1)
})
