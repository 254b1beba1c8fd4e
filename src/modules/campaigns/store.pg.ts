/**
 * The campaigns store on PostgreSQL. A change reads the campaign `FOR UPDATE`: concurrent spend
 * reports, from any node, queue on the row, so each adds to the spend the previous one committed
 * and sees the thresholds it crossed (READ COMMITTED alone would lose updates and fire twice).
 */
import { and, eq, getTableColumns } from 'drizzle-orm'
import { notFound } from '../../errors'
import type { PgDb } from '../../db/pg/client'
import { rowidPagePg, type PgDbOrTx } from '../../db/pg/pages'
import { campaigns } from '../../db/pg/schema'
import { writePg } from '../../db/pg/unit-of-work'
import type { Campaign, CampaignsStore, CampaignsStoreDeps } from './store'

const { rowid: _rowid, ...columns } = getTableColumns(campaigns)

/** The workspace's campaign, locked for the transaction when `forUpdate`, else a 404 (as on SQLite, also for an id PostgreSQL cannot store). */
async function campaignIn(db: PgDbOrTx, workspaceId: string, id: string, forUpdate = false): Promise<Campaign> {
  if (id.includes('\0')) throw notFound('campaign', id)
  const query = db
    .select(columns)
    .from(campaigns)
    .where(and(eq(campaigns.workspaceId, workspaceId), eq(campaigns.id, id)))
  const [row] = forUpdate ? await query.for('update') : await query
  if (!row) throw notFound('campaign', id)
  return row
}

/** The PostgreSQL campaigns store on `deps.pg`. */
export function pgCampaignsStore(deps: CampaignsStoreDeps & { pg: PgDb }): CampaignsStore {
  const { pg } = deps
  const unit = { pg, wake: deps.wake ?? (() => {}), storePgAnswer: deps.storePgAnswer, actor: deps.actor }
  return {
    get(workspaceId, id) {
      return campaignIn(pg, workspaceId, id)
    },

    async list(workspaceId, req) {
      const page = await rowidPagePg(pg, campaigns, eq(campaigns.workspaceId, workspaceId), req)
      return { ...page, rows: page.rows.map(({ seq, row: { rowid: _, ...row } }) => ({ seq, row })) }
    },

    insert(row) {
      return writePg(unit, async (tx) => {
        await tx.insert(campaigns).values(row)
        return row
      })
    },

    change(workspaceId, id, now, change) {
      return writePg(unit, async (tx, emit) => {
        const { changes, thresholdEvents } = change(await campaignIn(tx, workspaceId, id, true))
        const [updated] = await tx.update(campaigns).set(changes).where(eq(campaigns.id, id)).returning(columns)
        const fired = []
        for (const { threshold, data } of thresholdEvents(updated!)) {
          fired.push({ threshold, at: now, eventId: await emit(workspaceId, 'campaign.spend_threshold', data, now) })
        }
        if (fired.length === 0) return updated!
        const [recorded] = await tx
          .update(campaigns)
          .set({ thresholdCrossings: [...updated!.thresholdCrossings, ...fired] })
          .where(eq(campaigns.id, id))
          .returning(columns)
        return recorded!
      })
    },
  }
}
