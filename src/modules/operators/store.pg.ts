/**
 * Operators, memberships and invites on PostgreSQL. The unique indexes decide between concurrent
 * creations; a membership change locks its workspace's member list first, so two owners demoting
 * each other at once cannot leave it without an owner, and an invite is used up under a row lock.
 */
import { and, asc, desc, eq, gt, isNull } from 'drizzle-orm'
import type { PgDb } from '../../db/pg/client'
import { apiKeys, invites, memberships, operators, sessions, workspaces } from '../../db/pg/schema'
import { lockKeys, type PgTx, writePg } from '../../db/pg/unit-of-work'
import type { Actor } from '../../lib/actor'
import { keyRevoked } from '../api-keys/audit'
import { audit, leavesNoOwner, type MemberChange, type Operator, type OperatorsStore, type Role } from './store'

/** Membership changes emit no events: there is never a dispatcher to wake. */
const NOTHING_TO_WAKE = () => {}

async function emailTaken(tx: PgTx, email: string): Promise<boolean> {
  const [row] = await tx.select({ id: operators.id }).from(operators).where(eq(operators.email, email))
  return !!row
}

/** Inserts an operator unless the email is taken (decided by the unique index, also between concurrent inserts). */
async function insertOperator(tx: PgTx, row: Operator): Promise<boolean> {
  const inserted = await tx.insert(operators).values(row).onConflictDoNothing({ target: operators.email }).returning({ id: operators.id })
  return inserted.length > 0
}

/** The PostgreSQL implementation of the operator store. */
export function pgOperatorsStore(pg: PgDb, actor?: Actor): OperatorsStore {
  const deps = { pg, wake: NOTHING_TO_WAKE, actor }
  const change = (workspaceId: string, operatorId: string, role: Role | null, now: number) =>
    writePg(deps, async (tx, emit): Promise<MemberChange> => {
      await lockKeys(tx, [`askad:members:${workspaceId}`])
      const where = and(eq(memberships.workspaceId, workspaceId), eq(memberships.operatorId, operatorId))
      const [member] = await tx.select({ role: memberships.role }).from(memberships).where(where)
      if (!member) return 'missing'
      const owners = await tx
        .select({ id: memberships.operatorId })
        .from(memberships)
        .where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.role, 'owner')))
      if (
        leavesNoOwner(
          owners.map((o) => o.id),
          operatorId,
          role,
        )
      )
        return 'last-owner'
      if (role) await tx.update(memberships).set({ role }).where(where)
      else await tx.delete(memberships).where(where)
      await emit.audit(role ? audit.roleChanged(workspaceId, operatorId, member.role, role) : audit.removed(workspaceId, operatorId, member.role), now)
      if (role) return 'done'
      // Leaving ends what they left behind: the keys minted for them and the invites they made.
      const mine = and(eq(apiKeys.workspaceId, workspaceId), eq(apiKeys.createdByOperator, operatorId), isNull(apiKeys.revokedAt))
      for (const { rowid: _, ...key } of await tx.update(apiKeys).set({ revokedAt: now }).where(mine).returning()) await emit.audit(keyRevoked(key), now)
      const theirs = and(eq(invites.workspaceId, workspaceId), eq(invites.createdBy, operatorId))
      for (const { id } of await tx.delete(invites).where(theirs).returning({ id: invites.id })) await emit.audit(audit.inviteRevoked(workspaceId, id), now)
      return 'done'
    })
  return {
    insertOwner(row, now) {
      return writePg(deps, async (tx, emit) => {
        if (!(await insertOperator(tx, row))) return false
        await emit.audit(audit.operatorCreated(row), now)
        const all = await tx.select({ id: workspaces.id }).from(workspaces)
        if (all.length > 0)
          await tx.insert(memberships).values(all.map(({ id }) => ({ workspaceId: id, operatorId: row.id, role: 'owner' as const, createdAt: now })))
        return true
      })
    },
    acceptInvite(hash, operatorId, now, row?: Operator) {
      return writePg(deps, async (tx, emit) => {
        const [invite] = await tx
          .select()
          .from(invites)
          .where(and(eq(invites.hash, hash), gt(invites.expiresAt, now)))
          .for('update')
        if (!invite) return 'gone'
        // A member already (an owner trying their own link): the invite stays for whom it was meant, and nothing is recorded.
        const member = and(eq(memberships.workspaceId, invite.workspaceId), eq(memberships.operatorId, operatorId))
        if (!row && (await tx.select({ role: memberships.role }).from(memberships).where(member)).length > 0) return invite.workspaceId
        if (row && (await emailTaken(tx, row.email))) return 'taken'
        if (row) {
          if (!(await insertOperator(tx, row))) return 'taken'
          await emit.audit(audit.operatorCreated(row), now)
        }
        await tx.delete(invites).where(eq(invites.id, invite.id))
        await tx.insert(memberships).values({ workspaceId: invite.workspaceId, operatorId, role: invite.role, createdAt: now }).onConflictDoNothing()
        await emit.audit(audit.joined(invite, operatorId), now)
        return invite.workspaceId
      })
    },
    async count() {
      return pg.$count(operators)
    },
    async findByEmail(email) {
      const [row] = await pg.select().from(operators).where(eq(operators.email, email))
      return row
    },
    async get(id) {
      const [row] = await pg.select().from(operators).where(eq(operators.id, id))
      return row
    },
    list() {
      return pg.select().from(operators).orderBy(asc(operators.createdAt))
    },
    setPassword(id, passwordHash) {
      return writePg(deps, async (tx) => {
        if ((await tx.update(operators).set({ passwordHash }).where(eq(operators.id, id)).returning({ id: operators.id })).length === 0) return false
        await tx.delete(sessions).where(eq(sessions.operatorId, id))
        return true
      })
    },
    async signedIn(id, now) {
      await writePg(deps, (tx) => tx.update(operators).set({ lastSignInAt: now }).where(eq(operators.id, id)))
    },
    async role(workspaceId, operatorId) {
      const [row] = await pg
        .select({ role: memberships.role })
        .from(memberships)
        .where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.operatorId, operatorId)))
      return row?.role
    },
    workspacesOf(operatorId) {
      return pg
        .select({ workspace: workspaces, role: memberships.role })
        .from(memberships)
        .innerJoin(workspaces, eq(workspaces.id, memberships.workspaceId))
        .where(eq(memberships.operatorId, operatorId))
        .orderBy(asc(workspaces.createdAt), asc(workspaces.slug))
    },
    insertWorkspace(row, operatorId) {
      return writePg(deps, async (tx, emit) => {
        const inserted = await tx.insert(workspaces).values(row).onConflictDoNothing({ target: workspaces.slug }).returning({ id: workspaces.id })
        if (inserted.length === 0) return false
        await tx.insert(memberships).values({ workspaceId: row.id, operatorId, role: 'owner', createdAt: row.createdAt })
        await emit.audit(audit.workspaceCreated(row), row.createdAt)
        return true
      })
    },
    members(workspaceId) {
      return pg
        .select({ operatorId: operators.id, email: operators.email, role: memberships.role, createdAt: memberships.createdAt })
        .from(memberships)
        .innerJoin(operators, eq(operators.id, memberships.operatorId))
        .where(eq(memberships.workspaceId, workspaceId))
        .orderBy(asc(operators.email))
    },
    setRole(workspaceId, operatorId, role, now) {
      return change(workspaceId, operatorId, role, now)
    },
    removeMember(workspaceId, operatorId, now) {
      return change(workspaceId, operatorId, null, now)
    },
    async insertInvite(row) {
      await writePg(deps, async (tx, emit) => {
        await tx.insert(invites).values(row)
        await emit.audit(audit.invited(row), row.createdAt)
      })
    },
    invites(workspaceId) {
      return pg.select().from(invites).where(eq(invites.workspaceId, workspaceId)).orderBy(desc(invites.createdAt))
    },
    async findInvite(hash) {
      const [row] = await pg.select().from(invites).where(eq(invites.hash, hash))
      return row
    },
    revokeInvite(workspaceId, id, now) {
      return writePg(deps, async (tx, emit) => {
        const gone = await tx
          .delete(invites)
          .where(and(eq(invites.workspaceId, workspaceId), eq(invites.id, id)))
          .returning({ id: invites.id })
        if (gone.length === 0) return false
        await emit.audit(audit.inviteRevoked(workspaceId, id), now)
        return true
      })
    },
  }
}
