/** migrate(): drizzle's table format kept both ways, pending migrations applied once, a new file always in WAL mode. */
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb, type Db } from '../../src/db/client'
import { migrate } from '../../src/db/migrate'
import { embeddedMigrations } from '../../src/db/migrations.gen'
import { drizzleMigrate } from '../legacy-migrate'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const dir = mkdtempSync(join(tmpdir(), 'askad-migrate-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0
const fresh = () => openDb(join(dir, `db-${files++}.db`))

const applied = (db: Db) => db.$client.query('select hash, created_at from __drizzle_migrations order by created_at').all()

test('a database migrated by the previous release (drizzle migrator) is recognised as up to date', () => {
  const db = fresh()
  drizzleMigrate(db)
  const before = applied(db)
  migrate(db)
  expect(applied(db)).toEqual(before)
  db.$client.close()
})

test('a database migrated here is up to date for drizzle migrator too (rows in its format)', () => {
  const db = fresh()
  migrate(db)
  const rows = applied(db)
  expect(rows).toHaveLength(embeddedMigrations.length)
  drizzleMigrate(db)
  expect(applied(db)).toEqual(rows)
  db.$client.close()
})

test('an older database gets only the newer migrations, once, and a failing one leaves it untouched', () => {
  const db = fresh()
  drizzleMigrate(db)
  const last = embeddedMigrations.at(-1)!
  const extra = {
    tag: '9999_extra',
    when: last.when + 1,
    breakpoints: true,
    sql: 'CREATE TABLE `extra` (`id` text);\n--> statement-breakpoint\nCREATE INDEX `extra_idx` ON `extra` (`id`);',
  }
  migrate(db, [...embeddedMigrations, extra])
  migrate(db, [...embeddedMigrations, extra])
  expect(applied(db)).toHaveLength(embeddedMigrations.length + 1)
  expect(db.$client.query("select count(*) as n from sqlite_master where name in ('extra', 'extra_idx')").get()).toEqual({ n: 2 })

  const broken = { tag: '9999_broken', when: last.when + 2, breakpoints: true, sql: 'CREATE TABLE `half` (`id` text);\n--> statement-breakpoint\nnot sql' }
  expect(() => migrate(db, [...embeddedMigrations, extra, broken])).toThrow()
  expect(applied(db)).toHaveLength(embeddedMigrations.length + 1)
  expect(db.$client.query("select count(*) as n from sqlite_master where name = 'half'").get()).toEqual({ n: 0 })
  db.$client.close()
})

test('a new file opens in WAL mode', () => {
  const db = fresh()
  expect(db.$client.query('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' })
  db.$client.close()
})
