/** The command table: names, flags and help text of every CLI command, in one place. */
import type { ParseArgsConfig } from 'node:util'
import { DEFAULTS, SETTINGS } from '../config'

type Options = NonNullable<ParseArgsConfig['options']>

export interface CommandSpec {
  /** e.g. ['key', 'create'] */
  path: string[]
  usage: string
  summary: string
  /** Lines shown under the usage by `--help`. */
  details?: string[]
  /** Names of the positional arguments, all required (none when absent). */
  arguments?: string[]
  options: Options
}

const common: Options = {
  db: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
}

const SPECS: CommandSpec[] = [
  {
    path: ['serve'],
    usage:
      'askad serve [--port N] [--host H] [--db FILE|postgres://…] [--db-pool N] [--rate-limit N/60s] [--webhook-allow-cidrs CIDRS] [--webhook-max-endpoints N] [--trusted-proxies CIDRS] [--bootstrap-key KEY] [--secret-key KEY] [--log-level L] [--retention-days D]',
    summary: 'Start the server (the default command).',
    details: ['Settings (a flag beats its environment variable):', ...SETTINGS.map((s) => `  --${s.flag.padEnd(20)} ${s.env.padEnd(26)} ${s.help}`)],
    options: Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: 'string' }])),
  },
  {
    path: ['workspace', 'create'],
    arguments: ['SLUG'],
    usage: 'askad workspace create SLUG [--name "Display name"] [--owner EMAIL]',
    summary: 'Create a workspace (tenant).',
    details: ['--owner makes that dashboard operator its owner (without one, only API keys open it until someone is invited).'],
    options: { name: { type: 'string' }, owner: { type: 'string' } },
  },
  { path: ['workspace', 'list'], usage: 'askad workspace list', summary: 'List workspaces.', options: {} },
  {
    path: ['operator', 'create'],
    arguments: ['EMAIL'],
    usage: 'askad operator create EMAIL',
    summary: 'Create a dashboard operator (owner of every workspace).',
    details: [
      'The password (10 to 200 bytes) is asked for without echo on a terminal, else read from the first line of stdin:',
      '  echo "$PASSWORD" | askad operator create me@example.com',
    ],
    options: {},
  },
  { path: ['operator', 'list'], usage: 'askad operator list', summary: 'List dashboard operators.', options: {} },
  {
    path: ['operator', 'password'],
    arguments: ['EMAIL'],
    usage: 'askad operator password EMAIL',
    summary: "Set an operator's new password (read like operator create's).",
    options: {},
  },
  {
    path: ['key', 'create'],
    usage:
      'askad key create --workspace W [--name N] [--scopes a,b] [--publishable --origins https://a.example,https://b.example] [--rate-limit N] [--expires-at RFC3339]',
    summary: 'Create an API key; the full key is printed once.',
    options: {
      workspace: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      publishable: { type: 'boolean' },
      origins: { type: 'string' },
      'rate-limit': { type: 'string' },
      'expires-at': { type: 'string' },
    },
  },
  {
    path: ['key', 'list'],
    usage: 'askad key list --workspace W',
    summary: "List a workspace's keys (prefixes only).",
    options: { workspace: { type: 'string' } },
  },
  {
    path: ['key', 'revoke'],
    arguments: ['KEY_ID'],
    usage: 'askad key revoke KEY_ID',
    summary: 'Revoke a key; it stops working on its next request.',
    options: {},
  },
  {
    path: ['key', 'generate'],
    usage: 'askad key generate [--publishable]',
    summary: 'Print a fresh valid key without storing it (for ASKAD_BOOTSTRAP_KEY).',
    options: { publishable: { type: 'boolean' } },
  },
  {
    path: ['healthcheck'],
    usage: 'askad healthcheck [--port N] [--host H]',
    summary: 'Exit 0 when the local server answers /healthz (for Docker HEALTHCHECK).',
    options: { port: { type: 'string' }, host: { type: 'string' } },
  },
  { path: ['migrate'], usage: 'askad migrate', summary: 'Create or upgrade the database schema (serve does this too).', options: {} },
  {
    path: ['secrets', 'encrypt'],
    usage: 'askad secrets encrypt',
    summary: 'Encrypt webhook secrets and header values with ASKAD_SECRET_KEY.',
    details: ['Values already encrypted with the key are re-encrypted; plaintext ones are encrypted. One transaction.'],
    options: {},
  },
  {
    path: ['secrets', 'rotate'],
    usage: 'askad secrets rotate --new-key KEY [--old-key KEY]',
    summary: 'Re-encrypt webhook secrets with a new ASKAD_SECRET_KEY.',
    details: [
      'Every value is decrypted with the old key (--old-key, default ASKAD_SECRET_KEY) and encrypted with the new one,',
      'in one transaction; then start the server with ASKAD_SECRET_KEY set to the new key. Keys: openssl rand -base64 32.',
    ],
    options: { 'old-key': { type: 'string' }, 'new-key': { type: 'string' } },
  },
  {
    path: ['backup'],
    arguments: ['FILE'],
    usage: 'askad backup FILE',
    summary: 'Write a consistent copy of the live database to FILE.',
    details: ['SQLite only; back a PostgreSQL database up with pg_dump.'],
    options: {},
  },
]

export const COMMANDS: CommandSpec[] = SPECS.map((c) => ({ ...c, options: { ...common, ...c.options } }))

/** The command whose path the leading words spell, if any. */
/**
 * The words of a command line that name its command: every argument that is neither a flag nor a
 * flag's value, so flags may come before the command (`askad --db x.db workspace list`).
 */
export function commandWords(argv: string[]): string[] {
  const takesValue = new Set(
    COMMANDS.flatMap((c) =>
      Object.entries(c.options)
        .filter(([, o]) => o.type === 'string')
        .map(([name]) => `--${name}`),
    ),
  )
  const words: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('-')) words.push(arg)
    else if (takesValue.has(arg)) i++
  }
  return words
}

/** The command named by the leading words, if any. */
export function findCommand(words: string[]): CommandSpec | undefined {
  return COMMANDS.find((c) => c.path.every((p, i) => words[i] === p))
}

/** The text of `askad --help`. */
export function generalHelp(version: string): string {
  const lines = COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(18)} ${c.summary}`)
  return [
    `askad ${version}: self-hosted lead webhooks, contacts, deals and outbound webhooks.`,
    '',
    'Usage: askad [command] [flags]',
    '',
    'Commands:',
    ...lines,
    '',
    'Flags on every command:',
    `  --db FILE|URL  SQLite database file or postgres:// URL (default ${DEFAULTS.dbPath}, or ASKAD_DB)`,
    '  --json         Machine-readable output',
    '  --help, -h     Help for the command',
    '  --version, -v  Print the version',
    '',
    "Run 'askad COMMAND --help' for a command's flags.",
  ].join('\n')
}
