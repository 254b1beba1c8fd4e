/** `askad serve`: migrate, bootstrap an empty database, listen, run the workers, and shut down gracefully. */
import { relative } from 'node:path'
import { createApp } from '../app'
import type { Config } from '../config'
import { startCheckpointer } from '../db/checkpointer'
import { stopSyncing, syncCommits, type Durability } from '../db/durability'
import { CLI_BUSY_TIMEOUT_MS, openDb, SERVER_BUSY_TIMEOUT_MS, setBusyTimeout, type Db } from '../db/client'
import { migrate } from '../db/migrate'
import type { AppDeps } from '../deps'
import { systemClock } from '../lib/clock'
import { createSecretBox } from '../lib/secret-box'
import { createLogger, type Logger } from '../lib/logger'
import { createRateLimitStore } from '../lib/rate-limit-store'
import { assertSourceSecretsFit } from '../modules/sources/at-rest'
import { assertSecretKeyFits } from '../modules/webhooks/at-rest'
import { anyOperator } from '../modules/operators/service'
import { openSetupGate } from '../modules/operators/setup'
import { bootstrap } from '../modules/workspaces/service'
import { storageProblem, writeProbe } from '../db/storage'
import { startDispatcher } from '../workers/dispatcher'
import { CliError } from './output'
import { startRetention } from '../workers/retention'
import { sqliteEngine } from '../db/engine'
import { isPostgresUrl, migratePg, openPg, redactUrl } from '../db/pg/client'
import { probePg } from '../db/pg/health'
import { VERSION } from '../version'

/**
 * No server-level cap: Bun would answer a bare 413 (no problem body, no X-Request-Id) above it. Bodies
 * are streamed, not buffered, so our parser's 1 MiB limit is what refuses them, before reading any
 * body whose Content-Length is too large.
 */
const SERVER_MAX_BODY_BYTES = Number.MAX_SAFE_INTEGER

/** How long in-flight requests get after SIGTERM before their connections are closed; inside Docker's default 10 s stop timeout. */
const SHUTDOWN_GRACE_MS = 8_000

/** The database a server runs on: the deps that name it, how it is shown, and what start-up and shutdown do with it. */
interface ServingStorage {
  deps: Pick<AppDeps, 'db' | 'pg' | 'engine'>
  /** The database as banners and logs show it (a PostgreSQL URL without its password). */
  shown: string
  /** Start-up is over: from now on, requests must not wait for locks. */
  serving(): void
  close(): Promise<void>
}

/** How the user runs this program: `askad` for the executable, `bun src/index.ts` from a clone (what README says). */
function invocation(): string {
  return Bun.isStandaloneExecutable ? 'askad' : `bun ${relative(process.cwd(), Bun.main)}`
}

/** Starts the server; `json` prints the start-up banner as one JSON line for scripts. */
export async function serve(config: Config, options: { json?: boolean } = {}): Promise<void> {
  const logger = createLogger(config.logLevel)
  const storage = isPostgresUrl(config.dbPath) ? await openPostgres(config.dbPath, config.dbPool) : openSqlite(config.dbPath, config.durability, logger)
  // A wrong (or missing) ASKAD_SECRET_KEY would make every delivery fail later: refuse to start instead.
  await assertSecretKeyFits(storage.deps, createSecretBox(config.secretKey))
  await assertSourceSecretsFit(storage.deps, createSecretBox(config.secretKey))
  if (!config.secretKey) logger.info('webhook secrets are stored in plaintext; set ASKAD_SECRET_KEY to encrypt them')
  const rateLimitStore = createRateLimitStore(config, systemClock, { logger })
  const deps: AppDeps = {
    ...storage.deps,
    config,
    clock: systemClock,
    logger,
    rateLimitStore,
    wake: () => dispatcher.wake(),
    dispatcherState: () => dispatcher.state(),
  }
  const dispatcher = startDispatcher(deps)

  const boot = await bootstrap(deps, config.bootstrapKey)
  const setup = (await anyOperator(deps)) ? null : openSetupGate()
  deps.setupGate = setup?.gate
  storage.serving()
  const retention = startRetention(deps)
  const app = createApp(deps).listen({ port: config.port, hostname: config.host, maxRequestBodySize: SERVER_MAX_BODY_BYTES })
  const server = app.server!
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${server.port}`

  const say = (line = '') => process.stdout.write(`${line}\n`)
  const setupUrl = setup && `${url}/dashboard/setup?token=${setup.token}`
  if (options.json) {
    const first = boot && { workspace: boot.workspace.slug, key_id: boot.created.record.id, key: boot.created.key }
    say(
      JSON.stringify({
        listening: url,
        dashboard: `${url}/dashboard`,
        docs: `${url}/docs`,
        version: VERSION,
        db: storage.shown,
        bootstrap: first ?? null,
        setup_url: setupUrl,
      }),
    )
  } else {
    printBanner(say, url, storage.shown, boot)
    if (setupUrl) say(`No operator yet: create the first one at ${setupUrl} (works once; or run ${invocation()} operator create EMAIL)`)
  }
  logger.info('server started', {
    url,
    version: VERSION,
    db: storage.shown,
    durability: deps.pg ? null : config.durability,
    rate_limit_store: rateLimitStore.kind,
  })

  // SIGTERM/SIGINT: stop accepting, let in-flight requests and delivery attempts finish (both at once,
  // each within its own grace: a hanging receiver's attempt is cut off and its lease released), close
  // the database (which checkpoints the WAL), exit 0. A second signal closes open connections at once.
  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn('second signal: closing open connections and cutting webhook attempts off now', { signal })
      void server.stop(true)
      // Cut-off attempts are not recorded and their leases are freed: they are re-sent after a restart.
      void dispatcher.stop(0)
      return
    }
    stopping = true
    logger.info('shutting down: finishing in-flight requests', { signal, grace_ms: SHUTDOWN_GRACE_MS })
    const overdue = setTimeout(() => {
      logger.warn('requests still running after the grace period; closing their connections', { grace_ms: SHUTDOWN_GRACE_MS })
      void server.stop(true)
    }, SHUTDOWN_GRACE_MS)
    await Promise.all([app.stop().then(() => clearTimeout(overdue)), dispatcher.stop(), retention.stop()])
    await rateLimitStore.close()
    await storage.close()
    logger.info('stopped', { signal })
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}

/** SQLite: open (start-up waits for other processes' locks), refuse a file that cannot take writes, migrate. */
function openSqlite(dbPath: string, durability: Durability, logger: Logger): ServingStorage {
  const db = openForServing(dbPath)
  refuseUnwritable(db, dbPath)
  migrate(db)
  const file = dbPath !== ':memory:'
  if (durability === 'full' && file) syncCommits(db)
  const checkpointer = file ? startCheckpointer(db, dbPath, logger) : null
  return {
    deps: { db, engine: sqliteEngine(db) },
    shown: dbPath,
    // Start-up may wait for the lock (nodes starting together, a CLI command); serving must not.
    serving: () => setBusyTimeout(db.$client, SERVER_BUSY_TIMEOUT_MS),
    // Closing checkpoints the WAL into the database file.
    close: async () => {
      await checkpointer?.stop()
      await stopSyncing(db)
      db.$client.close()
    },
  }
}

/** PostgreSQL: refuse a server that cannot be reached or is a read-only replica, then migrate (under the advisory lock). */
async function openPostgres(url: string, poolSize: number): Promise<ServingStorage> {
  const shown = redactUrl(url)
  const pg = openPg(url, { max: poolSize })
  const probe = await probePg(pg)
  if (!probe.writable) {
    await pg.$client.close()
    throw new CliError(`cannot serve from ${shown}: the database cannot take writes (${probe.problem.cause}). ${probe.problem.detail}`)
  }
  await migratePg(pg)
  return {
    // No SQLite on a PostgreSQL node: every store takes `pg` when it is set (deps.ts).
    deps: { pg, db: undefined as unknown as Db },
    shown,
    serving() {},
    close: () => pg.$client.close(),
  }
}

/** Opens the database; a file (or folder) askad cannot write is a clear refusal, not SQLite's raw words. */
function openForServing(dbPath: string): Db {
  try {
    return openDb(dbPath, { busyTimeoutMs: CLI_BUSY_TIMEOUT_MS })
  } catch (error) {
    const problem = storageProblem(error)
    if (!problem) throw error
    throw new CliError(`cannot serve from ${dbPath}: the database cannot take writes (${problem.cause}). ${problem.detail}`)
  }
}

/** A server that cannot save would answer every write with 503 while looking alive: refuse to start instead. */
function refuseUnwritable(db: Db, dbPath: string): void {
  const probe = writeProbe(db)
  if (probe.writable) return
  db.$client.close()
  throw new CliError(`cannot serve from ${dbPath}: the database cannot take writes (${probe.problem.cause}). ${probe.problem.detail}`)
}

function printBanner(say: (line?: string) => void, url: string, dbPath: string, boot: Awaited<ReturnType<typeof bootstrap>>): void {
  say(`askad ${VERSION} listening on ${url}`)
  say(`Dashboard: ${url}/dashboard`)
  say(`API docs: ${url}/docs`)
  say(`Database: ${dbPath}`)
  if (!boot) return
  say()
  say(`First start: created workspace '${boot.workspace.slug}' and a secret key with all scopes.`)
  say(`It is shown only this once, so store it now:`)
  say()
  say(`  export ASKAD_KEY=${boot.created.key}`)
  say()
  say(`Try: curl -X POST ${url}/api/v1/leads/inbound -H "Authorization: Bearer $ASKAD_KEY" \\`)
  say(`       -H "Content-Type: application/json" -d '{"email":"jane@example.com","source":"curl"}'`)
}
