/**
 * The PostgreSQL schema: the same tables, columns and indexes as the SQLite schema (../schema.ts),
 * which stays the reference; drizzle-kit generates the PostgreSQL migration set (drizzle/pg/) from
 * this file. Differences, each for a reason:
 * - times (Unix ms), money and counters are `bigint` read as JS numbers (`mode: 'number'`): Bun
 *   returns int8 as a string otherwise, and every value askad stores is below 2^53;
 * - JSON columns are `text` holding JSON that askad encodes and decodes itself: drizzle 0.45's
 *   bun-sql driver stores `jsonb` values as JSON strings (a string inside the JSON), so a text
 *   column is what round-trips exactly, on both engines alike;
 * - booleans are `boolean`.
 */
import { sql } from 'drizzle-orm'
import { bigint, boolean, customType, index, integer, pgTable, primaryKey, text, uniqueIndex, type PgColumn } from 'drizzle-orm/pg-core'
import { ACTOR_TYPES } from '../../lib/actor'
import { KEY_KINDS } from '../../lib/keys'
import type { ThresholdCrossing } from '../schema'

/** A JSON value stored as text, encoded and decoded here (see the file comment). */
const json = <T>(name: string) =>
  customType<{ data: T; driverData: string }>({
    dataType: () => 'text',
    toDriver: (value) => JSON.stringify(value),
    fromDriver: (value) => JSON.parse(value) as T,
  })(name)

/** A contact's name as search matches it, as ../schema.ts `contactNameKey` (lower() here follows the database's LC_CTYPE). */
export const contactNameKeyPg = (t: { firstName: PgColumn; lastName: PgColumn }) =>
  sql`lower(case when ${t.firstName} is null then ${t.lastName} when ${t.lastName} is null then ${t.firstName} else ${t.firstName} || ' ' || ${t.lastName} end)`

/** Unix milliseconds, or another integer that may pass 2^31. */
const ms = (name: string) => bigint(name, { mode: 'number' })

/**
 * SQLite's implicit rowid, made explicit: insertion order, the `after` cursor of pages over small
 * tables (rowidPagePg) and the retention worker's walk over events.
 */
const rowid = () => bigint('rowid', { mode: 'number' }).generatedAlwaysAsIdentity()

export const workspaces = pgTable('workspaces', {
  id: text('id').primaryKey(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  createdAt: ms('created_at').notNull(),
})

/** Kept counters (per workspace): totals and dense sequence numbers that page numbers map onto. */
export const counters = pgTable(
  'counters',
  {
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    value: ms('value').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.name] })],
)

/**
 * Sequence numbers of erased rows (GDPR erasure of a contact, its leads), per workspace and counter
 * (`contacts`, `leads`, and their per-source counters). The counters stay the high-water mark and
 * `erased:<counter>` counts these, so totals are `counter - erased` and page N's seq range is
 * corrected by the erased seqs above it (db/seq-page.ts): the rows are never renumbered.
 */
export const erasedSeqs = pgTable(
  'erased_seqs',
  {
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    counter: text('counter').notNull(),
    seq: ms('seq').notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.counter, t.seq] })],
)

export const apiKeys = pgTable(
  'api_keys',
  {
    rowid: rowid(),
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
    createdAt: ms('created_at').notNull(),
    lastUsedAt: ms('last_used_at'),
    expiresAt: ms('expires_at'),
    revokedAt: ms('revoked_at'),
  },
  (t) => [index('api_keys_workspace_idx').on(t.workspaceId, t.createdAt)],
)

export const contacts = pgTable(
  'contacts',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    seq: ms('seq').notNull(),
    sourceSeq: ms('source_seq').notNull(),
    email: text('email'),
    phone: text('phone'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    firstSource: text('first_source').notNull(),
    lastSource: text('last_source').notNull(),
    metadata: json<Record<string, unknown>>('metadata').notNull(),
    leadCount: integer('lead_count').notNull().default(0),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('contacts_seq_idx').on(t.workspaceId, t.seq),
    uniqueIndex('contacts_source_seq_idx').on(t.workspaceId, t.firstSource, t.sourceSeq),
    // The target of ON CONFLICT (workspace_id, email) WHERE email IS NOT NULL: concurrent leads with one email make one contact.
    uniqueIndex('contacts_email_idx').on(t.workspaceId, t.email).where(sql`email is not null`),
    index('contacts_phone_idx').on(t.workspaceId, t.phone, t.seq).where(sql`phone is not null`),
    index('contacts_phone_no_email_idx').on(t.workspaceId, t.phone, t.seq).where(sql`phone is not null and email is null`),
    index('contacts_updated_idx').on(t.workspaceId, t.updatedAt),
    // Search (modules/contacts/search.ts): prefix ranges in byte order (COLLATE "C"; the database's own
    // collation does not keep a prefix's matches together), with seq so the matches' seqs come from the index alone.
    index('contacts_name_search_idx').on(t.workspaceId, sql`(${contactNameKeyPg(t)} COLLATE "C")`, t.seq),
    index('contacts_last_name_search_idx').on(t.workspaceId, sql`(lower(${t.lastName}) COLLATE "C")`, t.seq),
    index('contacts_email_search_idx').on(t.workspaceId, sql`(${t.email} COLLATE "C")`, t.seq).where(sql`email is not null`),
    index('contacts_phone_search_idx').on(t.workspaceId, sql`(${t.phone} COLLATE "C")`, t.seq).where(sql`phone is not null`),
  ],
)

export const leads = pgTable(
  'leads',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    contactId: text('contact_id')
      .notNull()
      .references(() => contacts.id),
    seq: ms('seq').notNull(),
    sourceSeq: ms('source_seq').notNull(),
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
    convertedAt: ms('converted_at'),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('leads_seq_idx').on(t.workspaceId, t.seq),
    uniqueIndex('leads_source_seq_idx').on(t.workspaceId, t.source, t.sourceSeq),
    index('leads_contact_idx').on(t.contactId, t.createdAt),
  ],
)

export const deals = pgTable(
  'deals',
  {
    rowid: rowid(),
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    contactId: text('contact_id').references(() => contacts.id),
    leadId: text('lead_id'),
    title: text('title').notNull(),
    valueMinor: ms('value_minor').notNull().default(0),
    currency: text('currency').notNull(),
    stage: text('stage', { enum: ['new', 'qualified', 'proposal', 'negotiation', 'won', 'lost'] }).notNull(),
    metadata: json<Record<string, unknown>>('metadata').notNull().default(sql`'{}'`),
    closedAt: ms('closed_at'),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [
    index('deals_workspace_idx').on(t.workspaceId, t.createdAt),
    index('deals_stage_idx').on(t.workspaceId, t.stage, t.createdAt),
    index('deals_contact_idx').on(t.contactId),
  ],
)

export const campaigns = pgTable(
  'campaigns',
  {
    rowid: rowid(),
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    currency: text('currency').notNull(),
    budgetMinor: ms('budget_minor'),
    spendMinor: ms('spend_minor').notNull().default(0),
    spendThresholdsMinor: json<number[]>('spend_thresholds').notNull(),
    thresholdsCrossedMinor: json<number[]>('thresholds_crossed').notNull().default(sql`'[]'`),
    /** When each threshold fired and its `campaign.spend_threshold` event, in firing order (the dashboard shows them with their deliveries). */
    thresholdCrossings: json<ThresholdCrossing[]>('threshold_crossings').notNull().default(sql`'[]'`),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [index('campaigns_workspace_idx').on(t.workspaceId, t.createdAt)],
)

/** The outbox: one row per event, written in the transaction that caused it. */
export const events = pgTable(
  'events',
  {
    rowid: rowid(),
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    payload: text('payload').notNull(),
    /** The contact whose data the payload carries (lead and deal events), so an erasure finds and redacts it. */
    contactId: text('contact_id'),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('events_contact_idx').on(t.contactId).where(sql`contact_id is not null`)],
)

/**
 * Sources: URLs of their own (`/api/v1/in/{token}`) for tools that cannot set a header or send our JSON.
 * The token is kept as its SHA-256 only, like an API key; the tool's signing secret, verify token and
 * access token are sealed with ASKAD_SECRET_KEY when one is set, like webhook secrets.
 */
export const sources = pgTable(
  'sources',
  {
    rowid: rowid(),
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
    createdAt: ms('created_at').notNull(),
    lastUsedAt: ms('last_used_at'),
    rotatedAt: ms('rotated_at'),
    revokedAt: ms('revoked_at'),
  },
  (t) => [index('sources_workspace_idx').on(t.workspaceId, t.createdAt)],
)

export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    rowid: rowid(),
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    events: json<string[]>('events').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    disabledReason: text('disabled_reason'),
    secret: text('secret').notNull(),
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: ms('previous_secret_expires_at'),
    headers: json<Record<string, string>>('headers').notNull().default(sql`'{}'`),
    /** Attempts in flight to this endpoint at once, across processes (the dispatcher's per-endpoint cap). */
    maxInFlight: integer('max_in_flight').notNull().default(10),
    lastSuccessAt: ms('last_success_at'),
    failingSince: ms('failing_since'),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [index('webhook_endpoints_workspace_idx').on(t.workspaceId, t.createdAt)],
)

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    rowid: rowid(),
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
    nextAttemptAt: ms('next_attempt_at'),
    leaseUntil: ms('lease_until'),
    leaseOwner: text('lease_owner'),
    manual: boolean('manual').notNull().default(false),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [
    index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt),
    index('webhook_deliveries_lease_idx').on(t.status, t.leaseUntil, t.endpointId),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.createdAt),
    uniqueIndex('webhook_deliveries_event_endpoint_idx').on(t.eventId, t.endpointId),
  ],
)

export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: text('id').primaryKey(),
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    trigger: text('trigger', { enum: ['scheduled', 'manual'] }).notNull(),
    startedAt: ms('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    statusCode: integer('status_code'),
    errorClass: text('error_class', { enum: ['timeout', 'dns', 'connect', 'tls', 'blocked', 'http'] }),
    errorMessage: text('error_message'),
    responseBody: text('response_body'),
    nextAttemptAt: ms('next_attempt_at'),
  },
  (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.attempt)],
)

/** Stored responses of POSTs sent with an Idempotency-Key, per API key, for 24 h. */
export const idempotencyKeys = pgTable(
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
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotency_keys_expiry_idx').on(t.expiresAt)],
)

/** People who sign in to the dashboard by email and password (argon2id hash; the email trimmed and lower-cased). */
export const operators = pgTable('operators', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  createdAt: ms('created_at').notNull(),
  lastSignInAt: ms('last_sign_in_at'),
})

/** Which operators may open which workspace, and with which role (owner, admin, viewer). */
export const memberships = pgTable(
  'memberships',
  {
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    operatorId: text('operator_id')
      .notNull()
      .references(() => operators.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'admin', 'viewer'] }).notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.operatorId] }), index('memberships_operator_idx').on(t.operatorId)],
)

/** Pending invitations to a workspace: only the SHA-256 of the one-time link's token is stored; deleted when used or revoked. */
export const invites = pgTable(
  'invites',
  {
    id: text('id').primaryKey(),
    workspaceId: text('workspace_id')
      .notNull()
      .references(() => workspaces.id, { onDelete: 'cascade' }),
    hash: text('hash').notNull().unique(),
    role: text('role', { enum: ['owner', 'admin', 'viewer'] }).notNull(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
    /** The operator who made it: their pending invites go when they leave the workspace. */
    createdBy: text('created_by'),
  },
  (t) => [index('invites_workspace_idx').on(t.workspaceId)],
)

/** Dashboard sessions: only the SHA-256 of the cookie value is stored. */
export const sessions = pgTable(
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
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
  },
  (t) => [index('sessions_expiry_idx').on(t.expiresAt)],
)

/** Who did what, when and from where (see ../schema.ts). */
export const auditLog = pgTable(
  'audit_log',
  {
    rowid: rowid(),
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
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('audit_log_workspace_idx').on(t.workspaceId, t.rowid)],
)
