/** Environment variables and `serve` flags folded into one typed, frozen config object. */
import { DURABILITIES, type Durability } from './db/durability'
import { LOG_LEVELS, type LogLevel } from './lib/logger'
import { parseRanges } from './lib/client-ip'
import { parseSecretKey } from './lib/secret-box'
import type { AddressRanges } from './lib/ssrf'

export interface RateLimitConfig {
  /** Bucket size: requests allowed in a burst. */
  capacity: number
  /** Time for an empty bucket to refill completely. */
  windowMs: number
}

export interface Config {
  port: number
  host: string
  dbPath: string
  /** Connections a node keeps to PostgreSQL for requests and workers (plus its rate-limit store's and one for LISTEN). */
  dbPool: number
  /** SQLite: whether an acknowledged write survives power loss (`full`) or only a crash of askad (`normal`). */
  durability: Durability
  rateLimit: RateLimitConfig
  /** CIDRs webhooks may reach despite the SSRF guard, parsed once here. */
  webhookAllowCidrs: AddressRanges
  /** Endpoints a workspace may have; bounds the deliveries one event fans out to. */
  webhookMaxEndpoints: number
  /** Proxies whose X-Forwarded-For is believed, parsed once here. */
  trustedProxies: AddressRanges
  bootstrapKey: string | undefined
  /** ASKAD_SECRET_KEY decoded: webhook secrets and header values are encrypted at rest with it when set. */
  secretKey: Buffer | undefined
  logLevel: LogLevel
  /** Settled webhook history (events, deliveries, attempts, response bodies) older than this is pruned. */
  retentionDays: number
  /** Redis shared by all nodes for the rate-limit buckets (lib/rate-limit-store.ts), when set. */
  redisUrl: string | undefined
  /** Where Facebook sources fetch the leads Facebook only names by id (the Graph API, with its version), no trailing slash. */
  facebookGraphUrl: string
}

export const DEFAULTS = {
  port: 3000,
  host: '0.0.0.0',
  dbPath: './data/askad.db',
  dbPool: 10,
  durability: 'full',
  rateLimit: '100/60s',
  webhookMaxEndpoints: 20,
  logLevel: 'info',
  retentionDays: 30,
  facebookGraphUrl: 'https://graph.facebook.com/v21.0',
} as const

/** The flag each setting takes on `askad serve`, and the variable it falls back to. */
export const SETTINGS = [
  { flag: 'port', env: 'PORT', help: `Port to listen on (default ${DEFAULTS.port})` },
  { flag: 'host', env: 'HOST', help: `Address to bind (default ${DEFAULTS.host})` },
  { flag: 'db', env: 'ASKAD_DB', help: `SQLite database file, or a postgres:// URL (default ${DEFAULTS.dbPath})` },
  { flag: 'db-pool', env: 'ASKAD_DB_POOL', help: `PostgreSQL connections per node for requests and workers (default ${DEFAULTS.dbPool})` },
  {
    flag: 'durability',
    env: 'ASKAD_DURABILITY',
    help: `SQLite: full (an acknowledged write survives power loss) or normal (survives a crash of askad) (default ${DEFAULTS.durability})`,
  },
  { flag: 'rate-limit', env: 'ASKAD_RATE_LIMIT', help: `Requests per key: N (per minute) or N/<seconds>s (default ${DEFAULTS.rateLimit})` },
  { flag: 'webhook-allow-cidrs', env: 'ASKAD_WEBHOOK_ALLOW_CIDRS', help: 'Comma-separated CIDRs webhooks may reach despite the SSRF guard' },
  { flag: 'webhook-max-endpoints', env: 'ASKAD_WEBHOOK_MAX_ENDPOINTS', help: `Webhook endpoints per workspace (default ${DEFAULTS.webhookMaxEndpoints})` },
  { flag: 'trusted-proxies', env: 'ASKAD_TRUSTED_PROXIES', help: 'Comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed' },
  { flag: 'bootstrap-key', env: 'ASKAD_BOOTSTRAP_KEY', help: 'Secret key to create on first start instead of a random one' },
  { flag: 'secret-key', env: 'ASKAD_SECRET_KEY', help: 'Base64 of 32 random bytes: encrypts webhook secrets at rest (prefer the variable)' },
  { flag: 'redis-url', env: 'ASKAD_REDIS_URL', help: 'redis:// or rediss:// URL: rate-limit buckets shared by all nodes' },
  {
    flag: 'facebook-graph-url',
    env: 'ASKAD_FACEBOOK_GRAPH_URL',
    help: `Graph API base URL Facebook sources fetch leads from (default ${DEFAULTS.facebookGraphUrl})`,
  },
  { flag: 'log-level', env: 'LOG_LEVEL', help: `${LOG_LEVELS.join(', ')} (default ${DEFAULTS.logLevel})` },
  {
    flag: 'retention-days',
    env: 'ASKAD_RETENTION_DAYS',
    help: `Days delivered webhook events, deliveries and attempts are kept; fractions allowed (default ${DEFAULTS.retentionDays})`,
  },
] as const

export type SettingFlag = (typeof SETTINGS)[number]['flag']

/** Parses `100`, `100/60s`, `100/1m`: capacity per refill window. */
export function parseRateLimit(text: string): RateLimitConfig {
  const match = /^\s*(\d+)\s*(?:(?:\/|per)\s*(\d*)\s*(ms|s|m|h|sec|second|min|minute|hour)?)?\s*$/i.exec(text)
  if (!match) throw new Error(`Invalid rate limit '${text}': use N or N/<duration>, e.g. 100/60s`)
  const capacity = Number(match[1])
  const amount = match[2] ? Number(match[2]) : 1
  const unit = (match[3] ?? (match[2] ? 's' : 'm')).toLowerCase()
  const unitMs = unit === 'ms' ? 1 : unit.startsWith('s') ? 1_000 : unit.startsWith('m') ? 60_000 : 3_600_000
  const windowMs = match[2] || match[3] ? amount * unitMs : 60_000
  if (capacity < 1 || windowMs < 1) throw new Error(`Invalid rate limit '${text}': must be at least 1 per window`)
  return { capacity, windowMs }
}

/** Checks the Graph API base URL: http(s), a host, no query; kept without a trailing slash. */
export function parseGraphUrl(text: string): string {
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {}
  if (!url || !/^https?:$/.test(url.protocol) || !url.hostname || url.search || url.hash || url.username) {
    throw new Error(`Invalid ASKAD_FACEBOOK_GRAPH_URL '${text}': use a base URL such as ${DEFAULTS.facebookGraphUrl}`)
  }
  return text.replace(/\/+$/, '')
}

/** Checks a Redis URL: the scheme Bun's client speaks, and a host. */
export function parseRedisUrl(text: string): string {
  let url: URL | undefined
  try {
    url = new URL(text)
  } catch {}
  if (!url || !/^rediss?:$/.test(url.protocol) || !url.hostname) {
    throw new Error(`Invalid ASKAD_REDIS_URL '${text}': use redis://host:port or rediss://host:port (TLS), e.g. redis://127.0.0.1:6379`)
  }
  return text
}

function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

/** Builds the config: a flag beats its environment variable, which beats the default. */
export function loadConfig(flags: Partial<Record<SettingFlag, string>> = {}, env: Record<string, string | undefined> = process.env): Config {
  const get = (flag: SettingFlag) => flags[flag] ?? env[SETTINGS.find((s) => s.flag === flag)!.env]
  const port = Number(get('port') ?? DEFAULTS.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Invalid port '${get('port')}'`)
  const logLevel = (get('log-level') ?? DEFAULTS.logLevel).toLowerCase() as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`Invalid log level '${logLevel}'`)
  const webhookMaxEndpoints = Number(get('webhook-max-endpoints') || DEFAULTS.webhookMaxEndpoints)
  if (!Number.isInteger(webhookMaxEndpoints) || webhookMaxEndpoints < 1)
    throw new Error(`Invalid webhook endpoint limit '${get('webhook-max-endpoints')}': use a whole number ≥ 1`)
  const dbPool = Number(get('db-pool') || DEFAULTS.dbPool)
  if (!Number.isInteger(dbPool) || dbPool < 2 || dbPool > 200) throw new Error(`Invalid database pool size '${get('db-pool')}': a whole number from 2 to 200`)
  const durability = (get('durability') || DEFAULTS.durability).toLowerCase() as Durability
  if (!DURABILITIES.includes(durability)) throw new Error(`Invalid durability '${get('durability')}': use full or normal`)
  const retentionDays = Number(get('retention-days') || DEFAULTS.retentionDays)
  if (!Number.isFinite(retentionDays) || retentionDays <= 0)
    throw new Error(`Invalid retention '${get('retention-days')}': a number of days above 0, e.g. 30 or 0.5`)
  return Object.freeze({
    port,
    host: get('host') || DEFAULTS.host,
    dbPath: get('db') || DEFAULTS.dbPath,
    dbPool,
    durability,
    rateLimit: parseRateLimit(get('rate-limit') || DEFAULTS.rateLimit),
    webhookAllowCidrs: parseRanges(list(get('webhook-allow-cidrs'))),
    webhookMaxEndpoints,
    trustedProxies: parseRanges(list(get('trusted-proxies'))),
    bootstrapKey: get('bootstrap-key') || undefined,
    secretKey: get('secret-key') ? parseSecretKey(get('secret-key')!) : undefined,
    logLevel,
    retentionDays,
    redisUrl: get('redis-url') ? parseRedisUrl(get('redis-url')!) : undefined,
    facebookGraphUrl: parseGraphUrl(get('facebook-graph-url') || DEFAULTS.facebookGraphUrl),
  })
}
