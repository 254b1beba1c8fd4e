/** Drizzle schema: every table of askad. Times are Unix milliseconds; money is integer minor units. */
import { sql } from 'drizzle-orm'
import { ACTOR_TYPES } from '../lib/actor'
import { KEY_KINDS } from '../lib/keys'
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex, type SQLiteColumn } from 'drizzle-orm/sqlite-core'

const json = <T>(name: string) => text(name, { mode: 'json' }).$type<T>()

/**
 * A contact's name as search matches it: first and last name (stored trimmed) joined by a space,
 * lower-cased by SQLite's lower() (ASCII letters only). Shared by the index and the query, whose
 * expressions must match; written without commas, which drizzle-kit splits index expressions on.
 */
export const contactNameKey = (t: { firstName: SQLiteColumn; lastName: SQLiteColumn }) =>
  sql`lower(case when ${t.firstName} is null then ${t.lastName} when ${t.lastName} is null then ${t.firstName} else ${t.firstName} || ' ' || ${t.lastName} end)`

export const workspaces = sqliteTable('workspaces', {
  id: text('id').primaryKey(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  createdAt: integer('created_at').notNull(),
})

/** Kept counters (per workspace): totals and dense sequence numbers that page numbers map onto. */
export const counters = sqliteTable(
  'counters',
  {
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    value: integer('value').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.name] })],
)

/**
 * Sequence numbers of erased rows (GDPR erasure of a contact, its leads), per workspace and counter
 * (`contacts`, `leads`, and their per-source counters). The counters stay the high-water mark and
 * `erased:<counter>` counts these, so totals are `counter - erased` and page N's seq range is
 * corrected by the erased seqs above it (db/seq-page.ts): the rows are never renumbered.
 */
export const erasedSeqs = sqliteTable(
  'erased_seqs',
  {
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    counter: text('counter').notNull(),
    seq: integer('seq').notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.counter, t.seq] })],
)

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: KEY_KINDS }).notNull(),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    hash: text('hash').notNull().unique(),
    scopes: json<string[]>('scopes').notNull(),
    allowedOrigins: json<string[]>('allowed_origins').notNull().default(sql`'[]'`),
    rateLimit: integer('rate_limit'),
    /** The operator it was minted for (directly, or by a key they minted): revoked when they leave the workspace. */
    createdByOperator: text('created_by_operator'),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('api_keys_workspace_idx').on(t.workspaceId, t.createdAt)],
)

export const contacts = sqliteTable(
  'contacts',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    sourceSeq: integer('source_seq').notNull(),
    email: text('email'),
    phone: text('phone'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    firstSource: text('first_source').notNull(),
    lastSource: text('last_source').notNull(),
    metadata: json<Record<string, unknown>>('metadata').notNull(),
    leadCount: integer('lead_count').notNull().default(0),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('contacts_seq_idx').on(t.workspaceId, t.seq),
    uniqueIndex('contacts_source_seq_idx').on(t.workspaceId, t.firstSource, t.sourceSeq),
    uniqueIndex('contacts_email_idx').on(t.workspaceId, t.email).where(sql`email is not null`),
    index('contacts_phone_idx').on(t.workspaceId, t.phone, t.seq).where(sql`phone is not null`),
    // A phone-only contact that a lead with an email completes: without this, leads that share a
    // phone but bring new emails scan every contact with that phone.
    index('contacts_phone_no_email_idx').on(t.workspaceId, t.phone, t.seq).where(sql`phone is not null and email is null`),
    index('contacts_updated_idx').on(t.workspaceId, t.updatedAt),
    // Search (modules/contacts/search.ts): prefix ranges on the lower-cased full and last name and the
    // email, each with seq so the matches' seqs are read from the index alone (contacts_phone_idx serves phones).
    index('contacts_name_search_idx').on(t.workspaceId, contactNameKey(t), t.seq),
    index('contacts_last_name_search_idx').on(t.workspaceId, sql`lower(${t.lastName})`, t.seq),
    index('contacts_email_search_idx').on(t.workspaceId, t.email, t.seq).where(sql`email is not null`),
  ],
)

export const leads = sqliteTable(
  'leads',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    contactId: text('contact_id')
      .notNull()
      .references(() => contacts.id),
    seq: integer('seq').notNull(),
    sourceSeq: integer('source_seq').notNull(),
    channel: text('channel', { enum: ['inbound', 'capture', 'import'] }).notNull(),
    source: text('source').notNull(),
    email: text('email'),
    phone: text('phone'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    metadata: json<Record<string, unknown>>('metadata').notNull(),
    context: json<Record<string, unknown>>('context'),
    status: text('status', { enum: ['new', 'converted'] })
      .notNull()
      .default('new'),
    dealId: text('deal_id'),
    convertedAt: integer('converted_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('leads_seq_idx').on(t.workspaceId, t.seq),
    uniqueIndex('leads_source_seq_idx').on(t.workspaceId, t.source, t.sourceSeq),
    index('leads_contact_idx').on(t.contactId, t.createdAt),
  ],
)

export const deals = sqliteTable(
  'deals',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    contactId: text('contact_id').references(() => contacts.id),
    leadId: text('lead_id'),
    title: text('title').notNull(),
    valueMinor: integer('value_minor').notNull().default(0),
    currency: text('currency').notNull(),
    stage: text('stage', { enum: ['new', 'qualified', 'proposal', 'negotiation', 'won', 'lost'] }).notNull(),
    metadata: json<Record<string, unknown>>('metadata').notNull().default(sql`'{}'`),
    closedAt: integer('closed_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('deals_workspace_idx').on(t.workspaceId, t.createdAt),
    index('deals_stage_idx').on(t.workspaceId, t.stage, t.createdAt),
    index('deals_contact_idx').on(t.contactId),
  ],
)

/** One threshold firing of a campaign: the amount (minor units), when, and the event it emitted. */
export interface ThresholdCrossing {
  threshold: number
  at: number
  eventId: string
}

export const campaigns = sqliteTable(
  'campaigns',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    currency: text('currency').notNull(),
    budgetMinor: integer('budget_minor'),
    spendMinor: integer('spend_minor').notNull().default(0),
    spendThresholdsMinor: json<number[]>('spend_thresholds').notNull(),
    thresholdsCrossedMinor: json<number[]>('thresholds_crossed').notNull().default(sql`'[]'`),
    /** When each threshold fired and its `campaign.spend_threshold` event, in firing order (the dashboard shows them with their deliveries). */
    thresholdCrossings: json<ThresholdCrossing[]>('threshold_crossings').notNull().default(sql`'[]'`),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('campaigns_workspace_idx').on(t.workspaceId, t.createdAt)],
)

/** The outbox: one row per event, written in the transaction that caused it. */
export const events = sqliteTable(
  'events',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    payload: text('payload').notNull(),
    /** The contact whose data the payload carries (lead and deal events), so an erasure finds and redacts it. */
    contactId: text('contact_id'),
    createdAt: integer('created_at').notNull(),
  },
  // Events are read by id (deliveries point at them); the one secondary index finds a contact's events
  // when it is erased (GDPR Art. 17), the price of one index entry per lead event.
  (t) => [index('events_contact_idx').on(t.contactId).where(sql`contact_id is not null`)],
)

/**
 * Sources: URLs of their own (`/api/v1/in/{token}`) for tools that cannot set a header or send our JSON.
 * The token is kept as its SHA-256 only, like an API key; the tool's signing secret, verify token and
 * access token are sealed with ASKAD_SECRET_KEY when one is set, like webhook secrets.
 */
export const sources = sqliteTable(
  'sources',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** The preset (modules/sources/presets) that reads the tool's payload and checks its signature. */
    preset: text('preset').notNull(),
    prefix: text('prefix').notNull(),
    hash: text('hash').notNull().unique(),
    signingSecret: text('signing_secret'),
    verifyToken: text('verify_token'),
    accessToken: text('access_token'),
    rateLimit: integer('rate_limit'),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    rotatedAt: integer('rotated_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('sources_workspace_idx').on(t.workspaceId, t.createdAt)],
)

export const webhookEndpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    events: json<string[]>('events').notNull(),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    disabledReason: text('disabled_reason'),
    secret: text('secret').notNull(),
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: integer('previous_secret_expires_at'),
    headers: json<Record<string, string>>('headers').notNull().default(sql`'{}'`),
    /** Attempts in flight to this endpoint at once, across processes (the dispatcher's per-endpoint cap). */
    maxInFlight: integer('max_in_flight').notNull().default(10),
    lastSuccessAt: integer('last_success_at'),
    failingSince: integer('failing_since'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('webhook_endpoints_workspace_idx').on(t.workspaceId, t.createdAt)],
)

export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventId: text('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    status: text('status', { enum: ['pending', 'succeeded', 'failed'] })
      .notNull()
      .default('pending'),
    attemptCount: integer('attempt_count').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at'),
    leaseUntil: integer('lease_until'),
    leaseOwner: text('lease_owner'),
    manual: integer('manual', { mode: 'boolean' }).notNull().default(false),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt),
    // The dispatcher counts live leases per endpoint on every claim.
    index('webhook_deliveries_lease_idx').on(t.status, t.leaseUntil, t.endpointId),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.createdAt),
    uniqueIndex('webhook_deliveries_event_endpoint_idx').on(t.eventId, t.endpointId),
  ],
)

export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    id: text('id').primaryKey(),
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    trigger: text('trigger', { enum: ['scheduled', 'manual'] }).notNull(),
    startedAt: integer('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    statusCode: integer('status_code'),
    errorClass: text('error_class', { enum: ['timeout', 'dns', 'connect', 'tls', 'blocked', 'http'] }),
    errorMessage: text('error_message'),
    responseBody: text('response_body'),
    nextAttemptAt: integer('next_attempt_at'),
  },
  (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.attempt)],
)

/** Where a delivery stands: still being tried, delivered, or out of attempts. */
export const DELIVERY_STATUSES = webhookDeliveries.status.enumValues
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number]
/** What started an attempt: the retry schedule, or a retry by hand. */
export const ATTEMPT_TRIGGERS = webhookAttempts.trigger.enumValues
export type AttemptTrigger = (typeof ATTEMPT_TRIGGERS)[number]
/** Why an attempt failed (SPEC §7); null on success. */
export const ATTEMPT_ERROR_CLASSES = webhookAttempts.errorClass.enumValues
export type AttemptErrorClass = (typeof ATTEMPT_ERROR_CLASSES)[number]

/** Stored responses of POSTs sent with an Idempotency-Key, per API key, for 24 h. */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    /** The API key's id, or a source's (whose requests authenticate by the token in their URL). */
    apiKeyId: text('api_key_id').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    state: text('state', { enum: ['in_flight', 'done'] }).notNull(),
    responseStatus: integer('response_status'),
    responseHeaders: json<Record<string, string>>('response_headers'),
    responseBody: text('response_body'),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotency_keys_expiry_idx').on(t.expiresAt)],
)

/** People who sign in to the dashboard by email and password (argon2id hash; the email trimmed and lower-cased). */
export const operators = sqliteTable('operators', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  createdAt: integer('created_at').notNull(),
  lastSignInAt: integer('last_sign_in_at'),
})

/** Which operators may open which workspace, and with which role (owner, admin, viewer). */
export const memberships = sqliteTable(
  'memberships',
  {
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    operatorId: text('operator_id')
      .notNull()
      .references(() => operators.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'admin', 'viewer'] }).notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.operatorId] }), index('memberships_operator_idx').on(t.operatorId)],
)

/** Pending invitations to a workspace: only the SHA-256 of the one-time link's token is stored; deleted when used or revoked. */
export const invites = sqliteTable(
  'invites',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    hash: text('hash').notNull().unique(),
    role: text('role', { enum: ['owner', 'admin', 'viewer'] }).notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    /** The operator who made it: their pending invites go when they leave the workspace. */
    createdBy: text('created_by'),
  },
  (t) => [index('invites_workspace_idx').on(t.workspaceId)],
)

/** Dashboard sessions: only the SHA-256 of the cookie value is stored. */
export const sessions = sqliteTable(
  'sessions',
  {
    hash: text('hash').primaryKey(),
    /** The workspace a key session is bound to, or an operator's last used one (null once deleted). */
    workspaceId: text('workspace_id').references(() => workspaces.id, { onDelete: 'set null' }),
    /** Set for a session opened with an API key (it ends with the key). */
    apiKeyId: text('api_key_id').references(() => apiKeys.id, { onDelete: 'cascade' }),
    /** Set for a session opened by an operator's email and password. */
    operatorId: text('operator_id').references(() => operators.id, { onDelete: 'cascade' }),
    csrfToken: text('csrf_token').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('sessions_expiry_idx').on(t.expiresAt)],
)

/**
 * Who did what, when and from where: key, webhook, member and workspace changes, sign-ins, exports
 * and erasures (db/audit.ts). No foreign key on the workspace: the record of a deleted workspace
 * (and of its deletion) outlives it. Rows are kept until an operator removes them.
 */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id'),
    actorType: text('actor_type', { enum: ACTOR_TYPES }).notNull(),
    actorId: text('actor_id'),
    actorLabel: text('actor_label').notNull(),
    ip: text('ip'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    details: json<Record<string, unknown>>('details').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  // Newest first within a workspace: the index holds the rowid after workspace_id, so no sort.
  (t) => [index('audit_log_workspace_idx').on(t.workspaceId)],
)
