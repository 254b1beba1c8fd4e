/**
 * Sources on PostgreSQL. Rotation and revocation lock the row (`FOR UPDATE`), so a rotation never
 * revives a source revoked meanwhile; `last_used_at` skips a row another transaction holds.
 */
import { SQL } from 'bun'
import { and, asc, desc, eq, like, or } from 'drizzle-orm'
import type { PgDb } from '../../db/pg/client'
import { rowidPagePg, rowInWorkspacePg } from '../../db/pg/pages'
import { sources } from '../../db/pg/schema'
import { writePg } from '../../db/pg/unit-of-work'
import { ApiError, notFound } from '../../errors'
import { sourceCreated, sourceRevoked, sourceRotated } from './audit'
import type { Source, SourcesStore, SourceStoreDeps } from './store'

/** Sources emit no events: there is never a dispatcher to wake. */
const NOTHING_TO_WAKE = () => {}

/** A row with a secret in the encrypted stored form (lib/secret-box.ts). */
const sealedSecret = or(like(sources.signingSecret, 'enc:v1:%'), like(sources.verifyToken, 'enc:v1:%'), like(sources.accessToken, 'enc:v1:%'))

/** A row of the drizzle pg schema without its insertion-order column: the engine-neutral Source. */
function withoutRowid(row: typeof sources.$inferSelect): Source {
  const { rowid: _, ...source } = row
  return source as Source
}

/** The PostgreSQL implementation of the source store. */
export function pgSourcesStore(deps: SourceStoreDeps & { pg: PgDb }): SourcesStore {
  const { pg } = deps
  const owned = (workspaceId: string, id: string) => and(eq(sources.id, id), eq(sources.workspaceId, workspaceId))
  return {
    insert(created) {
      return writePg({ ...deps, wake: NOTHING_TO_WAKE }, async (tx, emit) => {
        // The unique hash decides between concurrent inserts of one token: the loser inserts nothing and is told so.
        const inserted = await tx.insert(sources).values(created.record).onConflictDoNothing({ target: sources.hash }).returning({ id: sources.id })
        if (inserted.length === 0) throw new ApiError('conflict', 'This source token is already registered.')
        await emit.audit(sourceCreated(created.record), created.record.createdAt)
        return created
      })
    },
    async page(workspaceId, req) {
      const { rows, total, hasMore } = await rowidPagePg(pg, sources, eq(sources.workspaceId, workspaceId), req)
      return { rows: rows.map(({ seq, row }) => ({ seq, row: withoutRowid(row) })), total, hasMore }
    },
    async get(workspaceId, id) {
      return withoutRowid(await rowInWorkspacePg(pg, sources, workspaceId, id, 'source'))
    },
    async list(workspaceId) {
      const rows = await pg.select().from(sources).where(eq(sources.workspaceId, workspaceId)).orderBy(desc(sources.createdAt))
      return rows.map(withoutRowid)
    },
    rotate(workspaceId, id, token, now, result) {
      return writePg({ ...deps, wake: NOTHING_TO_WAKE }, async (tx, emit) => {
        const [row] = await tx.select().from(sources).where(owned(workspaceId, id)).for('update')
        if (!row) throw notFound('source', id)
        if (row.revokedAt !== null) throw new ApiError('conflict', 'This source is revoked; create a new one instead.')
        const [rotated] = await tx
          .update(sources)
          .set({ ...token, rotatedAt: now })
          .where(eq(sources.id, id))
          .returning()
        const source = withoutRowid(rotated!)
        await emit.audit(sourceRotated(source, row.prefix), now)
        return result(source)
      })
    },
    revoke(workspaceId, id, now) {
      return writePg({ ...deps, wake: NOTHING_TO_WAKE }, async (tx, emit) => {
        const [row] = await tx.select().from(sources).where(owned(workspaceId, id)).for('update')
        if (!row) throw notFound('source', id)
        if (row.revokedAt !== null) return withoutRowid(row)
        const [revoked] = await tx.update(sources).set({ revokedAt: now }).where(eq(sources.id, id)).returning()
        const source = withoutRowid(revoked!)
        await emit.audit(sourceRevoked(source), now)
        return source
      })
    },
    async byHash(hash) {
      const [row] = await pg.select().from(sources).where(eq(sources.hash, hash))
      return row && withoutRowid(row)
    },
    async findSealed() {
      const [row] = await pg.select().from(sources).where(sealedSecret).limit(1)
      return row && withoutRowid(row)
    },
    resealAll(reseal) {
      return writePg({ ...deps, wake: NOTHING_TO_WAKE }, async (tx) => {
        const rows = await tx.select().from(sources).orderBy(asc(sources.id)).for('no key update')
        const resealed = []
        for (const row of rows) {
          const secrets = reseal(withoutRowid(row))
          await tx.update(sources).set(secrets).where(eq(sources.id, row.id))
          resealed.push(secrets)
        }
        return resealed
      })
    },
    async touch(id, now) {
      try {
        // SKIP LOCKED: a row being rotated or revoked is left alone rather than waited for.
        await pg.$client`
          UPDATE sources SET last_used_at = ${now}
          WHERE id = (SELECT id FROM sources WHERE id = ${id} FOR UPDATE SKIP LOCKED)`
      } catch (error) {
        // Bookkeeping only: a database that cannot take this write must not fail the delivery.
        if (!(error instanceof SQL.SQLError)) throw error
      }
    },
  }
}
