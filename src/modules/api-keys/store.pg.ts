/**
 * API keys on PostgreSQL. The look-up by hash runs on every request: raw SQL through the pool's
 * prepared statements. Revocation is one UPDATE that keeps the first `revoked_at`, so concurrent
 * revocations and authentications need no read-then-write; the `last_used_at` bookkeeping skips a
 * row another transaction holds instead of waiting for it.
 */
import { SQL } from 'bun'
import { desc, eq } from 'drizzle-orm'
import type { ApiKey } from '../../db/api-key'
import type { PgDb } from '../../db/pg/client'
import { rowidPagePg, rowInWorkspacePg } from '../../db/pg/pages'
import { apiKeys } from '../../db/pg/schema'
import { type PgTx, writePg } from '../../db/pg/unit-of-work'
import { ApiError, notFound } from '../../errors'
import type { KeyKind } from '../../lib/keys'
import { keyCreated, keyRevoked } from './audit'
import type { ApiKeysStore, KeyStoreDeps } from './store'

/** API keys emit no events: there is never a dispatcher to wake. */
const NOTHING_TO_WAKE = () => {}

/** A row as the raw client returns it: int8 columns as strings, JSON as text. */
interface RawKeyRow {
  id: string
  workspace_id: string
  kind: KeyKind
  name: string
  prefix: string
  hash: string
  scopes: string
  allowed_origins: string
  rate_limit: number | null
  created_by_operator: string | null
  created_at: string
  last_used_at: string | null
  expires_at: string | null
  revoked_at: string | null
}

const orNull = (value: string | null) => (value === null ? null : Number(value))

function fromRaw(r: RawKeyRow): ApiKey {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    kind: r.kind,
    name: r.name,
    prefix: r.prefix,
    hash: r.hash,
    scopes: JSON.parse(r.scopes) as string[],
    allowedOrigins: JSON.parse(r.allowed_origins) as string[],
    rateLimit: r.rate_limit,
    createdByOperator: r.created_by_operator,
    createdAt: Number(r.created_at),
    lastUsedAt: orNull(r.last_used_at),
    expiresAt: orNull(r.expires_at),
    revokedAt: orNull(r.revoked_at),
  }
}

/** A row of the drizzle pg schema without its insertion-order column: the engine-neutral ApiKey. */
function withoutRowid(row: typeof apiKeys.$inferSelect): ApiKey {
  const { rowid: _, ...key } = row
  return key
}

/** Inserts a key row inside a running transaction (bootstrap's too); 409 when its hash is registered already. */
export async function insertKeyPg(tx: PgTx, record: ApiKey): Promise<void> {
  // The unique hash decides between concurrent inserts of one key: the loser inserts nothing and is told so.
  const inserted = await tx.insert(apiKeys).values(record).onConflictDoNothing({ target: apiKeys.hash }).returning({ id: apiKeys.id })
  if (inserted.length === 0) throw new ApiError('conflict', 'This key is already registered.')
}

/** The PostgreSQL implementation of the API-key store. */
export function pgApiKeysStore(deps: KeyStoreDeps & { pg: PgDb }): ApiKeysStore {
  const { pg } = deps
  const sql = pg.$client
  return {
    insert(created) {
      return writePg({ ...deps, wake: NOTHING_TO_WAKE }, async (tx, emit) => {
        await insertKeyPg(tx, created.record)
        await emit.audit(keyCreated(created.record), created.record.createdAt)
        return created
      })
    },
    async page(workspaceId, req) {
      const { rows, total, hasMore } = await rowidPagePg(pg, apiKeys, eq(apiKeys.workspaceId, workspaceId), req)
      return { rows: rows.map(({ seq, row }) => ({ seq, row: withoutRowid(row) })), total, hasMore }
    },
    async get(workspaceId, id) {
      return withoutRowid(await rowInWorkspacePg(pg, apiKeys, workspaceId, id, 'API key'))
    },
    async list(workspaceId) {
      const rows = await pg.select().from(apiKeys).where(eq(apiKeys.workspaceId, workspaceId)).orderBy(desc(apiKeys.createdAt))
      return rows.map(withoutRowid)
    },
    async revoke(workspaceId, id, now) {
      // The first revocation's time stays, and the answer is the row as committed; only the revocation that sets it is recorded.
      const rows: RawKeyRow[] = await writePg({ ...deps, wake: NOTHING_TO_WAKE }, async (tx, emit) => {
        const [row]: RawKeyRow[] = workspaceId
          ? await tx.$client`SELECT * FROM api_keys WHERE id = ${id} AND workspace_id = ${workspaceId} FOR UPDATE`
          : await tx.$client`SELECT * FROM api_keys WHERE id = ${id} FOR UPDATE`
        if (!row || row.revoked_at !== null) return row ? [row] : []
        const revoked: RawKeyRow[] = await tx.$client`UPDATE api_keys SET revoked_at = ${now} WHERE id = ${id} RETURNING *`
        await emit.audit(keyRevoked(fromRaw(revoked[0]!)), now)
        return revoked
      })
      if (rows.length === 0) throw notFound('API key', id)
      return fromRaw(rows[0]!)
    },
    async byHash(hash) {
      const rows: RawKeyRow[] = await sql`SELECT * FROM api_keys WHERE hash = ${hash}`
      return rows.length === 0 ? undefined : fromRaw(rows[0]!)
    },
    async touch(id, now) {
      try {
        // SKIP LOCKED: a row being revoked (or touched by another node) is left alone rather than waited for.
        const rows = await sql`
          UPDATE api_keys SET last_used_at = ${now}
          WHERE id = (SELECT id FROM api_keys WHERE id = ${id} FOR UPDATE SKIP LOCKED)
          RETURNING id`
        return rows.length > 0
      } catch (error) {
        // Bookkeeping only: a database that cannot take this write must not fail the request that used the key.
        if (!(error instanceof SQL.SQLError)) throw error
        return false
      }
    },
  }
}
