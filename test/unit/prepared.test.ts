/** The drizzle adapter of prepared.ts: the private session it keys its cache on is there, and shared by a database and its transactions. */
import { afterAll, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { prepared, rawStatement, rawTable, sessionOf } from '../../src/db/prepared'
import { contacts, webhookEndpoints } from '../../src/db/schema'
import { writeTx } from '../../src/db/tx'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

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

test('rawTable: a row inserted and read back raw is the row drizzle reads, JSON and nulls included', async () => {
  const ws = await h.workspace()
  const row = {
    id: 'c-raw-1',
    workspaceId: ws.id,
    seq: 9_001,
    sourceSeq: 9_001,
    email: 'raw@example.com',
    phone: null,
    firstName: 'Ada',
    lastName: null,
    firstSource: 'raw',
    lastSource: 'raw',
    metadata: { nested: { list: [1, 'two'] }, quote: '"' },
    leadCount: 1,
    createdAt: 1,
    updatedAt: 2,
  }
  const rows = rawTable(contacts)
  writeTx(h.db, (tx) => rawStatement(tx, 'test.contacts.insert', rows.insert).run(rows.encode(row)))
  const viaDrizzle = h.db.select().from(contacts).where(eq(contacts.id, row.id)).get()
  expect(viaDrizzle).toEqual(row)
  const raw = rawStatement<Record<string, unknown>>(h.db, 'test.contacts.byId', `SELECT ${rows.columns} FROM contacts WHERE id = $id`).get({ id: row.id })!
  expect(rows.decode(raw)).toEqual(row)
})

test('rawTable refuses a table with a column type it does not map (booleans), at once', () => {
  expect(() => rawTable(webhookEndpoints)).toThrow(/enabled of webhook_endpoints is SQLiteBoolean/)
})
