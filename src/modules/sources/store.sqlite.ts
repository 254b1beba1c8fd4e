/** Sources on SQLite: the synchronous drizzle queries, writes through the unit of work. */
import { and, asc, desc, eq, like, or, sql } from 'drizzle-orm'
import { withoutBusyWait } from '../../db/client'
import { rowInWorkspace } from '../../db/in-workspace'
import { prepared } from '../../db/prepared'
import { rowidPage } from '../../db/rowid-page'
import { sources } from '../../db/schema'
import { storageProblem } from '../../db/storage'
import { writeTx } from '../../db/tx'
import { write } from '../../db/unit-of-work'
import { ApiError, notFound } from '../../errors'
import { sourceCreated, sourceRevoked, sourceRotated } from './audit'
import type { Source, SourcesStore, SourceStoreDeps } from './store'

/** Sources emit no events: there is never a dispatcher to wake. */
const NOTHING_TO_WAKE = () => {}

const asSource = (row: typeof sources.$inferSelect) => row as Source

/** A row with a secret in the encrypted stored form (lib/secret-box.ts). */
const sealedSecret = or(like(sources.signingSecret, 'enc:v1:%'), like(sources.verifyToken, 'enc:v1:%'), like(sources.accessToken, 'enc:v1:%'))

/** The SQLite implementation of the source store. */
export function sqliteSourcesStore(deps: SourceStoreDeps): SourcesStore {
  const { db } = deps
  const owned = (workspaceId: string, id: string) => and(eq(sources.id, id), eq(sources.workspaceId, workspaceId))
  return {
    insert(created) {
      return write({ ...deps, wake: NOTHING_TO_WAKE }, (tx, emit) => {
        if (tx.select({ id: sources.id }).from(sources).where(eq(sources.hash, created.record.hash)).get()) {
          throw new ApiError('conflict', 'This source token is already registered.')
        }
        tx.insert(sources).values(created.record).run()
        emit.audit(sourceCreated(created.record), created.record.createdAt)
        return created
      })
    },
    async page(workspaceId, req) {
      const { rows, total, hasMore } = rowidPage(db, sources, eq(sources.workspaceId, workspaceId), req)
      return { rows: rows.map(({ seq, row }) => ({ seq, row: asSource(row) })), total, hasMore }
    },
    async get(workspaceId, id) {
      return asSource(rowInWorkspace(db, sources, workspaceId, id, 'source'))
    },
    async list(workspaceId) {
      return db.select().from(sources).where(eq(sources.workspaceId, workspaceId)).orderBy(desc(sources.createdAt)).all().map(asSource)
    },
    rotate(workspaceId, id, token, now, result) {
      return write({ ...deps, wake: NOTHING_TO_WAKE }, (tx, emit) => {
        const row = tx.select().from(sources).where(owned(workspaceId, id)).get()
        if (!row) throw notFound('source', id)
        if (row.revokedAt !== null) throw new ApiError('conflict', 'This source is revoked; create a new one instead.')
        const rotated = asSource(
          tx
            .update(sources)
            .set({ ...token, rotatedAt: now })
            .where(eq(sources.id, id))
            .returning()
            .get()!,
        )
        emit.audit(sourceRotated(rotated, row.prefix), now)
        return result(rotated)
      })
    },
    revoke(workspaceId, id, now) {
      return write({ ...deps, wake: NOTHING_TO_WAKE }, (tx, emit) => {
        const row = tx.select().from(sources).where(owned(workspaceId, id)).get()
        if (!row) throw notFound('source', id)
        if (row.revokedAt !== null) return asSource(row)
        const revoked = asSource(tx.update(sources).set({ revokedAt: now }).where(eq(sources.id, id)).returning().get()!)
        emit.audit(sourceRevoked(revoked), now)
        return revoked
      })
    },
    async byHash(hash) {
      const byHash = prepared(db, 'sources.byHash', (d) =>
        d
          .select()
          .from(sources)
          .where(eq(sources.hash, sql.placeholder('hash')))
          .prepare(),
      )
      const row = byHash.get({ hash })
      return row && asSource(row)
    },
    async findSealed() {
      const row = db.select().from(sources).where(sealedSecret).limit(1).get()
      return row && asSource(row)
    },
    async resealAll(reseal) {
      return writeTx(db, (tx) =>
        tx
          .select()
          .from(sources)
          .orderBy(asc(sources.id))
          .all()
          .map((row) => {
            const secrets = reseal(asSource(row))
            tx.update(sources).set(secrets).where(eq(sources.id, row.id)).run()
            return secrets
          }),
      )
    },
    async touch(id, now) {
      try {
        // It never waits for another process's lock: a busy database must not turn a delivery into a 503.
        withoutBusyWait(db.$client, () => db.update(sources).set({ lastUsedAt: now }).where(eq(sources.id, id)).run())
      } catch (error) {
        if (!storageProblem(error)) throw error
      }
    },
  }
}
