/**
 * A throwaway PostgreSQL server for tests and benchmarks: real PostgreSQL, never a mock.
 *
 * `ASKAD_TEST_PG` (a postgres:// URL of a server whose user may create databases) is used when
 * set; otherwise the first caller starts a private cluster with the machine's `initdb` and
 * `pg_ctl` in a temp folder on a free 127.0.0.1 port (as the `postgres` user when running as
 * root: PostgreSQL refuses root), with fsync off, and stops it by PID and deletes the folder when
 * the process exits. Each `testDatabase()` is a fresh database on that server.
 *
 * Where PostgreSQL is neither given nor installed, `pgAvailable()` is false and the callers skip
 * with a loud message (`skipUnlessPg`): CI installs it (.ci/run), so CI never skips.
 */
import { spawnSync } from 'node:child_process'
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migratePg, openPg, type PgDb } from '../src/db/pg/client'

interface Cluster {
  /** URL of the maintenance database, for CREATE/DROP DATABASE. */
  adminUrl: string
  /** Stops a cluster started here (nothing for a given server); safe to call twice. */
  stop(): void
}

let cluster: Cluster | null | undefined

/** Runs a PostgreSQL command line, as `postgres` when we are root; throws with its output on failure. */
function pgCommand(args: string[], asPostgres: boolean): void {
  const command = asPostgres ? ['su', 'postgres', '-c', args.map(shellQuote).join(' ')] : args
  const result = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`${args[0]} failed (${result.status}): ${result.stderr || result.stdout}`)
}

function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0
}

/** A free TCP port on 127.0.0.1 (bound and released). */
function freePort(): number {
  const server = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = server.port
  server.stop(true)
  return port
}

function startCluster(): Cluster {
  const dir = mkdtempSync(join(tmpdir(), 'askad-pg-'))
  const asPostgres = process.getuid?.() === 0
  if (asPostgres) chownSync(dir, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()), 0)
  const data = join(dir, 'data')
  const port = freePort()
  try {
    pgCommand(['initdb', '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], asPostgres)
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`
    pgCommand(['pg_ctl', '-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start'], asPostgres)
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
  const stop = () => {
    // Immediate shutdown (SIGQUIT) by PID, then wait for the postmaster to go before deleting its folder.
    try {
      process.kill(pid, 'SIGQUIT')
      for (let i = 0; i < 200 && alive(pid); i++) Bun.sleepSync(25)
    } catch {}
    rmSync(dir, { recursive: true, force: true })
  }
  // Scripts stop it on exit; `bun test` emits no 'exit' event, so test/preload.ts calls stopTestPg after all tests.
  process.on('exit', stop)
  return { adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, stop }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function getCluster(): Cluster | null {
  if (cluster !== undefined) return cluster
  const given = process.env.ASKAD_TEST_PG
  if (given) return (cluster = { adminUrl: given, stop() {} })
  if (!onPath('initdb') || !onPath('pg_ctl')) return (cluster = null)
  return (cluster = startCluster())
}

/** Stops the cluster this process started, if any. */
export function stopTestPg(): void {
  cluster?.stop()
  cluster = undefined
}

/** True when tests can reach a PostgreSQL server (given or started here). */
export function pgAvailable(): boolean {
  return getCluster() !== null
}

/** Prints why a PostgreSQL test is skipped; returns whether it must skip. Use with `describe.skipIf`/`test.skipIf`. */
export function skipUnlessPg(what: string): boolean {
  if (pgAvailable()) return false
  console.warn(`SKIPPED ${what}: no PostgreSQL (set ASKAD_TEST_PG or install initdb/pg_ctl: apt-get install -y postgresql)`)
  return true
}

let databaseCounter = 0

export interface TestDatabase {
  url: string
  /** Drops the database (terminating its connections). */
  drop(): Promise<void>
}

/** A fresh, empty database on the test server. */
export async function testDatabase(): Promise<TestDatabase> {
  const server = getCluster()
  if (!server) throw new Error('no PostgreSQL server for tests (see test/pg.ts)')
  const name = `askad_test_${process.pid}_${++databaseCounter}`
  const admin = new Bun.SQL(server.adminUrl, { max: 1 })
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`)
  } finally {
    await admin.close()
  }
  const url = new URL(server.adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const admin = new Bun.SQL(server.adminUrl, { max: 1 })
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await admin.close()
      }
    },
  }
}

/** A fresh database with askad's schema, and a pool on it; `drop` closes the pool and drops the database. */
export async function migratedTestDatabase(): Promise<TestDatabase & { pg: PgDb }> {
  const database = await testDatabase()
  const pg = openPg(database.url, { max: 10 })
  await migratePg(pg)
  return {
    url: database.url,
    pg,
    async drop() {
      await pg.$client.close()
      await database.drop()
    },
  }
}

let template: string | undefined

/** Runs one statement through `psql` synchronously (for callers that cannot await, like the harness). */
function psqlSync(adminUrl: string, statement: string): void {
  const result = spawnSync('psql', [adminUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', statement], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`)
}

/**
 * A fresh database with askad's schema, created synchronously: a copy of a template database
 * migrated once per process (CREATE DATABASE … TEMPLATE, ~20 ms). For the synchronous test
 * harness; `drop` removes it.
 */
export function cloneMigratedDatabaseSync(): TestDatabase {
  const server = getCluster()
  if (!server) throw new Error('no PostgreSQL server for tests (see test/pg.ts)')
  const urlOf = (name: string) => Object.assign(new URL(server.adminUrl), { pathname: `/${name}` }).toString()
  if (!template) {
    const name = `askad_template_${process.pid}`
    psqlSync(server.adminUrl, `CREATE DATABASE ${name}`)
    const migrate = spawnSync(
      'bun',
      [
        '-e',
        `const { migratePg, openPg } = await import(${JSON.stringify(join(import.meta.dir, '../src/db/pg/client.ts'))}); const db = openPg(process.argv[1]); await migratePg(db); await db.$client.close()`,
        urlOf(name),
      ],
      { encoding: 'utf8' },
    )
    if (migrate.status !== 0) throw new Error(`migrating the template failed: ${migrate.stderr}`)
    template = name
  }
  const name = `askad_test_${process.pid}_${++databaseCounter}`
  psqlSync(server.adminUrl, `CREATE DATABASE ${name} TEMPLATE ${template} STRATEGY FILE_COPY`)
  return {
    url: urlOf(name),
    async drop() {
      const admin = new Bun.SQL(server.adminUrl, { max: 1 })
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await admin.close()
      }
    },
  }
}
