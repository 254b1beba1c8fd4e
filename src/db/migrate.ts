/** Applies the drizzle-kit migrations embedded in the executable (see scripts/embed-migrations.ts). */
import type { MigrationMeta } from 'drizzle-orm/migrator'
import type { Db } from './client'
import { embeddedMigrations } from './migrations.gen'

/** Brings the schema up to date; safe to call on every start and from several processes. */
export function migrate(db: Db): void {
  const migrations: MigrationMeta[] = embeddedMigrations.map((m) => ({
    sql: m.sql.split('--> statement-breakpoint'),
    bps: m.breakpoints,
    folderMillis: m.when,
    hash: new Bun.CryptoHasher('sha256').update(m.sql).digest('hex'),
  }))
  // drizzle's own migrator, fed from memory instead of the drizzle/ folder.
  const { dialect, session } = db as unknown as { dialect: { migrate: Function }; session: unknown }
  dialect.migrate(migrations, session, { migrationsFolder: '' })
}
