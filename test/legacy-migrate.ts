/** What releases before the migration lock ran: drizzle's own migrator fed the embedded migrations (to build "older" databases). */
import type { Db } from '../src/db/client'
import { embeddedMigrations } from '../src/db/migrations.gen'

/** Migrates `db` exactly as the previous release did. */
export function drizzleMigrate(db: Db): void {
  const migrations = embeddedMigrations.map((m) => ({
    sql: m.sql.split('--> statement-breakpoint'),
    bps: m.breakpoints,
    folderMillis: m.when,
    hash: new Bun.CryptoHasher('sha256').update(m.sql).digest('hex'),
  }))
  const { dialect, session } = db as unknown as { dialect: { migrate: Function }; session: unknown }
  dialect.migrate(migrations, session, { migrationsFolder: '' })
}
