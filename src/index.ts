#!/usr/bin/env bun
/** Entry point: parse the command line → config → open db → migrate → serve | run a command. */
import { CLI_ACTOR } from './lib/actor'
import './production'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { backup, pgBackupRefusal } from './cli/backup'
import { healthcheck } from './cli/healthcheck'
import { commandWords, findCommand, generalHelp, COMMANDS } from './cli/commands'
import { keyCreate, keyGenerate, keyList, keyRevoke } from './cli/key'
import { operatorCreate, operatorList, operatorPassword } from './cli/operator'
import { CliError, createOutput } from './cli/output'
import { secretsEncrypt, secretsRotate } from './cli/secrets'
import { serve } from './cli/serve'
import { workspaceCreate, workspaceList } from './cli/workspace'
import { loadConfig, type Config, type SettingFlag } from './config'
import { CLI_BUSY_TIMEOUT_MS, openDb } from './db/client'
import { migrate } from './db/migrate'
import { isPostgresUrl, migratePg, openPg, redactUrl } from './db/pg/client'
import type { ServiceDeps } from './deps'
import { systemClock } from './lib/clock'
import { ApiError } from './errors'
import { VERSION } from './version'

/** No dispatcher runs in the CLI, and its commands queue no deliveries: nothing to wake. */
const NOTHING_TO_WAKE = () => {}

/** Connections a CLI command opens to PostgreSQL: it runs one statement at a time. */
const CLI_POOL_SIZE = 2

async function main(argv: string[]): Promise<void> {
  const words = commandWords(argv)
  if (words.length === 0 && (argv.includes('--help') || argv.includes('-h'))) return void console.log(generalHelp(VERSION))
  const command = findCommand(words.length === 0 ? ['serve'] : words)
  if (!command) {
    if (argv.includes('--version') || argv.includes('-v')) return void console.log(VERSION)
    if (argv.includes('--help') || argv.includes('-h') || words.length === 0 || words[0] === 'help') return void console.log(generalHelp(VERSION))
    const group = COMMANDS.filter((c) => c.path[0] === words[0])
    if (group.length) throw new CliError(`Usage:\n${group.map((c) => `  ${c.usage}`).join('\n')}`, 2)
    throw new CliError(`Unknown command '${words.join(' ')}'.\n\n${generalHelp(VERSION)}`, 2)
  }

  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: argv, options: command.options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new CliError(`${(error as Error).message}\nUsage: ${command.usage}`, 2)
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>
  const args = parsed.positionals.slice(command.path.length)
  if (flags.version) return void console.log(VERSION)
  if (flags.help) return void console.log([command.summary, '', `Usage: ${command.usage}`, ...(command.details ? ['', ...command.details] : [])].join('\n'))

  const expected = command.arguments ?? []
  if (args.length !== expected.length) {
    const problem = args.length > expected.length ? `Unexpected argument '${args[expected.length]}'.` : `Missing ${expected.slice(args.length).join(' ')}.`
    throw new CliError(`${problem}\nUsage: ${command.usage}`, 2)
  }

  const settings = Object.fromEntries(Object.entries(flags).filter(([, v]) => typeof v === 'string')) as Partial<Record<SettingFlag, string>>
  const config = loadConfig(settings)
  if (command.path[0] === 'serve') {
    return serve(config, { json: Boolean(flags.json) })
  }

  const out = createOutput(Boolean(flags.json))
  if (command.path[0] === 'healthcheck') return healthcheck(config, out)
  if (command.path.join(' ') === 'key generate') return keyGenerate(out, flags)
  const name = command.path.join(' ')
  if (isPostgresUrl(config.dbPath)) return onPostgres(config.dbPath, { name, out, args, flags, config })
  // Only `serve` and `migrate` create a database: any other command run from the wrong folder (or with a
  // mistyped --db) would otherwise work on a new, empty one and report success.
  if (name !== 'migrate' && !existsSync(config.dbPath)) throw missingDatabase(config.dbPath, name)
  const db = openDb(config.dbPath, { busyTimeoutMs: CLI_BUSY_TIMEOUT_MS, synchronous: config.durability === 'full' ? 'FULL' : 'NORMAL' })
  try {
    migrate(db)
    if (name === 'backup') return backup(db, out, args[0]!)
    // Awaited here: the database closes once the command has finished.
    return await dataCommand({ db, clock: systemClock, wake: NOTHING_TO_WAKE, actor: CLI_ACTOR }, config.dbPath, { name, out, args, flags, config })
  } finally {
    db.$client.close()
  }
}

/** Runs a data command on a PostgreSQL database (migrated first, like SQLite); the pool closes afterwards so the process can exit. */
async function onPostgres(url: string, command: DataCommand) {
  const shown = redactUrl(url)
  if (command.name === 'backup') throw pgBackupRefusal(shown)
  const pg = openPg(url, { max: CLI_POOL_SIZE })
  try {
    await migratePg(pg)
    // ServiceDeps names a SQLite `db`, which is never touched while `pg` is set (deps.ts).
    const deps = { pg, clock: systemClock, wake: NOTHING_TO_WAKE, actor: CLI_ACTOR } as Omit<ServiceDeps, 'db'> as ServiceDeps
    return await dataCommand(deps, shown, command)
  } finally {
    await pg.$client.close()
  }
}

/** The refusal of a command given a SQLite database that does not exist. */
function missingDatabase(path: string, name: string): CliError {
  return new CliError(
    `No askad database at ${resolve(path)}: '${name}' works on an existing one and created nothing. ` +
      `Point --db (or ASKAD_DB) at the server's database, or create one with 'askad migrate --db ${path}' (the server creates it at its first start).`,
  )
}

/** A command that works on the data, alike on both engines. */
interface DataCommand {
  name: string
  out: ReturnType<typeof createOutput>
  args: string[]
  flags: Record<string, string | boolean | undefined>
  config: Config
}

/** The data commands, through the same services on SQLite and PostgreSQL; `shown` names the database in answers. */
async function dataCommand(deps: ServiceDeps, shown: string, { name, out, args, flags, config }: DataCommand): Promise<void> {
  switch (name) {
    case 'workspace create':
      return workspaceCreate(deps, out, args[0]!, flags as { name?: string; owner?: string })
    case 'workspace list':
      return workspaceList(deps, out)
    case 'operator create':
      return operatorCreate(deps, out, args[0]!)
    case 'operator list':
      return operatorList(deps, out)
    case 'operator password':
      return operatorPassword(deps, out, args[0]!)
    case 'key create':
      return keyCreate(deps, out, flags)
    case 'key list':
      return keyList(deps, out, flags as { workspace?: string })
    case 'key revoke':
      return keyRevoke(deps, out, args[0]!)
    case 'migrate':
      return out.result({ migrated: true, db: shown }, () => `Database ${shown} is up to date.`)
    case 'secrets encrypt':
      return secretsEncrypt(deps, out, config)
    case 'secrets rotate':
      return secretsRotate(deps, out, config, flags as { 'old-key'?: string; 'new-key'?: string })
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const json = process.argv.includes('--json')
  const message = error instanceof ApiError ? error.detail : error instanceof Error ? error.message : String(error)
  if (json) console.error(JSON.stringify({ error: message }))
  else console.error(`askad: ${message}`)
  process.exit(error instanceof CliError ? error.exitCode : 1)
})
