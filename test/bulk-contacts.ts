/**
 * Many contacts stored at once, in the real schema (seq and counters kept as the service keeps
 * them), for tests about sizes the API would take minutes to reach; alike on both engines.
 */
import { sql } from 'drizzle-orm'
import * as pgSchema from '../src/db/pg/schema'
import * as sqliteSchema from '../src/db/schema'
import { COUNTERS } from '../src/db/tx'
import type { Harness } from './helpers'

export interface BulkPerson {
  email?: string
  phone?: string
  firstName?: string
  lastName?: string
}

/** Rows per INSERT: within both engines' bound-parameter limits. */
const CHUNK = 500

/** Appends contacts (source 'bulk') after the workspace's newest one, in one transaction. */
export async function bulkContacts(h: Harness, workspaceId: string, people: BulkPerson[]): Promise<void> {
  const now = h.clock.now()
  const counter = async (name: string) => {
    const where = sql`workspace_id = ${workspaceId} AND name = ${name}`
    const rows = h.deps.pg ? await h.deps.pg.execute(sql`SELECT value FROM counters WHERE ${where}`) : h.db.all(sql`SELECT value FROM counters WHERE ${where}`)
    return Number((rows as unknown as { value: number }[])[0]?.value ?? 0)
  }
  const seq0 = await counter(COUNTERS.contacts)
  const sourceSeq0 = await counter(COUNTERS.contactsFromSource('bulk'))
  const rows = people.map((p, i) => ({
    id: Bun.randomUUIDv7(),
    workspaceId,
    seq: seq0 + i + 1,
    sourceSeq: sourceSeq0 + i + 1,
    email: p.email ?? null,
    phone: p.phone ?? null,
    firstName: p.firstName ?? null,
    lastName: p.lastName ?? null,
    firstSource: 'bulk',
    lastSource: 'bulk',
    metadata: {},
    leadCount: 1,
    createdAt: now,
    updatedAt: now,
  }))
  const setCounter = (name: string, value: number) =>
    sql`INSERT INTO counters (workspace_id, name, value) VALUES (${workspaceId}, ${name}, ${value}) ON CONFLICT (workspace_id, name) DO UPDATE SET value = excluded.value`
  const counters = [setCounter(COUNTERS.contacts, seq0 + people.length), setCounter(COUNTERS.contactsFromSource('bulk'), sourceSeq0 + people.length)]
  const pg = h.deps.pg
  if (pg) {
    await pg.transaction(async (tx) => {
      for (let i = 0; i < rows.length; i += CHUNK) await tx.insert(pgSchema.contacts).values(rows.slice(i, i + CHUNK))
      for (const statement of counters) await tx.execute(statement)
    })
    return
  }
  h.db.transaction((tx) => {
    for (let i = 0; i < rows.length; i += CHUNK)
      tx.insert(sqliteSchema.contacts)
        .values(rows.slice(i, i + CHUNK))
        .run()
    for (const statement of counters) tx.run(statement)
  })
}
