/** Applies the drizzle-kit migrations embedded in the executable (see scripts/embed-migrations.ts). */
import type { Db } from './client'
import { embeddedMigrations } from './migrations.gen'

export type EmbeddedMigration = (typeof embeddedMigrations)[number]

/** drizzle's bookkeeping table, in drizzle's format: databases migrated by drizzle's own migrator carry on, and the reverse. */
const MIGRATIONS_TABLE = '__drizzle_migrations'
const STATEMENT_BREAKPOINT = '--> statement-breakpoint'

/**
 * Brings the schema up to date; safe on every start and from any number of processes at once.
 * drizzle's migrator reads what is applied before its BEGIN, so processes starting together all
 * applied the first migration and all but one died on "table already exists". Here the write lock
 * is taken first (BEGIN IMMEDIATE, waiting out the others through busy_timeout), then the applied
 * list is read and the pending migrations run, all in that one transaction.
 */
export function migrate(db: Db, migrations: EmbeddedMigration[] = embeddedMigrations): void {
  const sqlite = db.$client
  sqlite
    .transaction(() => {
      sqlite.run(`CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`)
      const last = sqlite.query<{ created_at: number }, []>(`SELECT created_at FROM "${MIGRATIONS_TABLE}" ORDER BY created_at DESC LIMIT 1`).get()
      // Like drizzle: a migration is applied when it is newer than the newest one recorded.
      for (const migration of migrations) {
        if (last && Number(last.created_at) >= migration.when) continue
        for (const statement of migration.sql.split(STATEMENT_BREAKPOINT)) if (statement.trim()) sqlite.run(statement)
        const hash = new Bun.CryptoHasher('sha256').update(migration.sql).digest('hex')
        sqlite.run(`INSERT INTO "${MIGRATIONS_TABLE}" ("hash", "created_at") VALUES (?, ?)`, [hash, migration.when])
      }
    })
    .immediate()
}
