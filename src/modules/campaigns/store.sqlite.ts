/** The campaigns store on SQLite: reads on `db`, changes through the unit of work (BEGIN IMMEDIATE: the write lock covers read and write). */
import { eq } from 'drizzle-orm'
import { rowInWorkspace } from '../../db/in-workspace'
import { rowidPage } from '../../db/rowid-page'
import { campaigns } from '../../db/schema'
import { write } from '../../db/unit-of-work'
import type { CampaignsStore, CampaignsStoreDeps } from './store'

/** The SQLite campaigns store on `deps.db`. */
export function sqliteCampaignsStore(deps: CampaignsStoreDeps): CampaignsStore {
  const { db } = deps
  const unit = { ...deps, wake: deps.wake ?? (() => {}) }
  return {
    async get(workspaceId, id) {
      return rowInWorkspace(db, campaigns, workspaceId, id, 'campaign')
    },

    async list(workspaceId, req) {
      return rowidPage(db, campaigns, eq(campaigns.workspaceId, workspaceId), req)
    },

    insert(row) {
      return write(unit, (tx) => {
        tx.insert(campaigns).values(row).run()
        return row
      })
    },

    change(workspaceId, id, now, change) {
      return write(unit, (tx, emit) => {
        const { changes, thresholdEvents } = change(rowInWorkspace(tx, campaigns, workspaceId, id, 'campaign'))
        const updated = tx.update(campaigns).set(changes).where(eq(campaigns.id, id)).returning().get()!
        const fired = thresholdEvents(updated).map(({ threshold, data }) => ({
          threshold,
          at: now,
          eventId: emit(workspaceId, 'campaign.spend_threshold', data, now),
        }))
        if (fired.length === 0) return updated
        return tx
          .update(campaigns)
          .set({ thresholdCrossings: [...updated.thresholdCrossings, ...fired] })
          .where(eq(campaigns.id, id))
          .returning()
          .get()!
      })
    },
  }
}
