/** createApp(deps) → the Elysia instance (no listen), so tests and the server build the same thing. */
import { Elysia } from 'elysia'
import { sql } from 'drizzle-orm'
import type { AppDeps } from './deps'
import { accessLog } from './plugins/access-log'
import { API_PREFIX } from './lib/api-prefix'
import type { Authenticate } from './db/api-key'
import { auth, scopes } from './plugins/auth'
import { bodyParser } from './plugins/body'
import { dashboard } from './dashboard'
import { docs } from './plugins/docs'
import { errors } from './plugins/errors'
import { idempotency } from './plugins/idempotency'
import { metrics } from './plugins/metrics'
import { apiKeysModule } from './modules/api-keys'
import { auditModule } from './modules/audit'
import { authenticateKey } from './modules/api-keys/service'
import { campaignsModule } from './modules/campaigns'
import { captureErrorPage, captureModule } from './modules/capture'
import { contactsExportModule, contactsModule } from './modules/contacts'
import { dealsModule } from './modules/deals'
import { leadsExportModule, leadsModule } from './modules/leads'
import { webhooksModule } from './modules/webhooks'
import { EVENT_PAYLOADS } from './modules/webhooks/events'
import { sourcesModule } from './modules/sources'
import { authenticateSource } from './modules/sources/service'
import { writeProbe } from './db/storage'
import { probePg } from './db/pg/health'
import { VERSION } from './version'

/** /healthz on SQLite: the database answers, and takes a write (db/storage.ts). */
function probeSqlite(db: AppDeps['db']) {
  db.get(sql`select 1`)
  return writeProbe(db)
}

/** The gate's key check: the api-keys module's look-up, handed to the auth plugin so plugins never import modules. */
export function keyAuthenticator(deps: Pick<AppDeps, 'db' | 'clock' | 'pg'>): Authenticate {
  return (presented) => authenticateKey(deps, presented)
}

/** Builds the whole app: plugins in the order they must run, then every API module under /api/v1. */
export function createApp(deps: AppDeps) {
  // normalize: false — Elysia's default coercion turns a string into {"0": …} instead of rejecting it.
  // standardHostname: false — Elysia otherwise looks for the path from the URL's 11th character on,
  // which swallows a first segment after a Host of 3 characters or fewer ('Host: crm' and
  // /dashboard/metrics routed to /metrics); askad serves plain http://, so from the 7th is exact.
  return new Elysia({ normalize: false, handler: { standardHostname: false } })
    .use(accessLog(deps.logger))
    .use(metrics(deps))
    .use(errors(deps, captureErrorPage))
    .use(bodyParser())
    .use(auth({ ...deps, authenticate: keyAuthenticator(deps), authenticateSource: (token) => authenticateSource(deps, token) }))
    .use(idempotency(deps))
    .use(docs(EVENT_PAYLOADS))
    .use(dashboard(deps))
    .get(
      '/healthz',
      async ({ set }) => {
        set.headers['cache-control'] = 'no-store'
        const probe = deps.pg ? await probePg(deps.pg) : probeSqlite(deps.db)
        const dispatcher = deps.dispatcherState?.()
        if (probe.writable) return { status: 'ok', version: VERSION, database: { writable: true }, dispatcher }
        set.status = 503
        set.headers['retry-after'] = String(probe.problem.retryAfter)
        const database = { writable: false, cause: probe.problem.cause, detail: probe.problem.detail }
        return { status: 'unavailable', version: VERSION, database, dispatcher }
      },
      {
        detail: {
          operationId: 'getHealth',
          summary: 'Health check',
          description:
            'Answers 200 when the process answers and its database can take writes. Answers 503, with `database.cause` (`locked`, `read-only`, ' +
            '`full`, `io`, `unreachable`) and a `detail` for the operator, when it cannot: read-only, a full disk or an I/O error seen by the last ' +
            "write, another process holding SQLite's write lock for more than a second, or (on PostgreSQL) a database server that does not answer " +
            "within 2 s or is a read-only replica. Load balancers and Docker's health check take the node out then. " +
            '`dispatcher` shows the webhook dispatcher: running, attempts in flight, and its last error while it persists.',
          tags: ['Operations'],
        },
      },
    )
    .group(API_PREFIX, (api) =>
      api
        .use(leadsExportModule(deps, scopes))
        .use(leadsModule(deps, scopes))
        .use(captureModule(deps, scopes))
        .use(contactsExportModule(deps, scopes))
        .use(contactsModule(deps, scopes))
        .use(dealsModule(deps, scopes))
        .use(campaignsModule(deps, scopes))
        .use(webhooksModule(deps, scopes))
        .use(apiKeysModule(deps, scopes))
        .use(sourcesModule(deps, scopes))
        .use(auditModule(deps, scopes)),
    )
}

export type App = ReturnType<typeof createApp>
