/**
 * PostgreSQL: the engine for several askad nodes on one shared database (ASKAD_DB=postgres://…).
 * Bun's built-in SQL client, wrapped in drizzle's bun-sql driver for the query builder; hot paths
 * use the client's tagged templates directly.
 */
import { SQL } from 'bun'
import { drizzle, type BunSQLDatabase } from 'drizzle-orm/bun-sql'
import { embeddedMigrations } from './migrations.gen'
import * as schema from './schema'

export type PgDb = BunSQLDatabase<typeof schema> & { $client: SQL }

/** Connections one node keeps open at most: request handlers, the dispatcher and the retention worker share them. */
export const POOL_SIZE = 20

/** True for a `postgres://` or `postgresql://` URL: the database setting names a server, not a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db)
}

/** The URL without its password, for logs and messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return 'postgres://…'
  }
}

/** Opens a connection pool to `url` (nothing connects until the first query). */
export function openPg(url: string, options: { max?: number } = {}): PgDb {
  const client = new SQL(url, { max: options.max ?? POOL_SIZE })
  return drizzle({ client, schema }) as PgDb
}

export type EmbeddedPgMigration = (typeof embeddedMigrations)[number]

/** drizzle's bookkeeping table and schema, in drizzle's format: drizzle's own pg migrator carries on from it. */
const MIGRATIONS_SCHEMA = 'drizzle'
const MIGRATIONS_TABLE = '__drizzle_migrations'
const STATEMENT_BREAKPOINT = '--> statement-breakpoint'
/** The advisory lock key migrations run under ('askad' in ASCII); any other user of advisory locks must avoid it. */
export const MIGRATION_LOCK_KEY = 0x61736b6164

/**
 * Brings the schema up to date; safe on every start and from any number of nodes at once. The
 * whole run is one transaction holding a transaction-level advisory lock: nodes starting together
 * on an empty database queue on the lock, and each then reads what is applied under it (without
 * the lock, concurrent CREATE TABLEs fail with "already exists" or unique violations in the catalog).
 */
export async function migratePg(db: PgDb, migrations: EmbeddedPgMigration[] = embeddedMigrations): Promise<void> {
  await db.$client.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS "${MIGRATIONS_SCHEMA}"`)
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS "${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`)
    const [last] = await tx.unsafe(`SELECT created_at FROM "${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}" ORDER BY created_at DESC LIMIT 1`)
    // Like drizzle: a migration is applied when it is newer than the newest one recorded.
    for (const migration of migrations) {
      if (last && Number(last.created_at) >= migration.when) continue
      for (const statement of migration.sql.split(STATEMENT_BREAKPOINT)) if (statement.trim()) await tx.unsafe(statement)
      const hash = new Bun.CryptoHasher('sha256').update(migration.sql).digest('hex')
      await tx.unsafe(`INSERT INTO "${MIGRATIONS_SCHEMA}"."${MIGRATIONS_TABLE}" (hash, created_at) VALUES ($1, $2)`, [hash, migration.when])
    }
  })
}
