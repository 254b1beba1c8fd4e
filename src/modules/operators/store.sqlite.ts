/** Operators, memberships and invites on SQLite: reads on the connection, writes through the unit of work. */
import { and, asc, desc, eq, gt, isNull } from 'drizzle-orm'
import type { Db, Tx } from '../../db/client'
import { apiKeys, invites, memberships, operators, sessions, workspaces } from '../../db/schema'
import { write } from '../../db/unit-of-work'
import type { Actor } from '../../lib/actor'
import { keyRevoked } from '../api-keys/audit'
import { forgetCachedKeys } from '../api-keys/store.sqlite'
import { audit, leavesNoOwner, type MemberChange, type Operator, type OperatorsStore, type Role } from './store'

/** Membership changes emit no events: there is never a dispatcher to wake. */
const NOTHING_TO_WAKE = () => {}

function emailTaken(tx: Tx, email: string): boolean {
  return !!tx.select({ id: operators.id }).from(operators).where(eq(operators.email, email)).get()
}

function owners(tx: Tx, workspaceId: string): string[] {
  return tx
    .select({ id: memberships.operatorId })
    .from(memberships)
    .where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.role, 'owner')))
    .all()
    .map((r) => r.id)
}

/** The SQLite implementation of the operator store. */
export function sqliteOperatorsStore(db: Db, actor?: Actor): OperatorsStore {
  const deps = { db, wake: NOTHING_TO_WAKE, actor }
  const change = (workspaceId: string, operatorId: string, role: Role | null, now: number) =>
    write(deps, (tx, emit): MemberChange => {
      const where = and(eq(memberships.workspaceId, workspaceId), eq(memberships.operatorId, operatorId))
      const member = tx.select({ role: memberships.role }).from(memberships).where(where).get()
      if (!member) return 'missing'
      if (leavesNoOwner(owners(tx, workspaceId), operatorId, role)) return 'last-owner'
      if (role) tx.update(memberships).set({ role }).where(where).run()
      else tx.delete(memberships).where(where).run()
      emit.audit(role ? audit.roleChanged(workspaceId, operatorId, member.role, role) : audit.removed(workspaceId, operatorId, member.role), now)
      if (role) return 'done'
      // Leaving ends what they left behind: the keys minted for them and the invites they made.
      const mine = and(eq(apiKeys.workspaceId, workspaceId), eq(apiKeys.createdByOperator, operatorId), isNull(apiKeys.revokedAt))
      const revoked = tx.update(apiKeys).set({ revokedAt: now }).where(mine).returning().all()
      if (revoked.length > 0) forgetCachedKeys(db)
      for (const key of revoked) emit.audit(keyRevoked(key), now)
      const theirs = and(eq(invites.workspaceId, workspaceId), eq(invites.createdBy, operatorId))
      for (const { id } of tx.delete(invites).where(theirs).returning({ id: invites.id }).all()) emit.audit(audit.inviteRevoked(workspaceId, id), now)
      return 'done'
    })
  return {
    insertOwner(row, now) {
      return write(deps, (tx, emit) => {
        if (emailTaken(tx, row.email)) return false
        tx.insert(operators).values(row).run()
        emit.audit(audit.operatorCreated(row), now)
        for (const { id } of tx.select({ id: workspaces.id }).from(workspaces).all())
          tx.insert(memberships).values({ workspaceId: id, operatorId: row.id, role: 'owner', createdAt: now }).run()
        return true
      })
    },
    acceptInvite(hash, operatorId, now, row?: Operator) {
      return write(deps, (tx, emit) => {
        const live = and(eq(invites.hash, hash), gt(invites.expiresAt, now))
        const invite = tx.select().from(invites).where(live).get()
        if (!invite) return 'gone'
        // A member already (an owner trying their own link): the invite stays for whom it was meant, and nothing is recorded.
        const member = and(eq(memberships.workspaceId, invite.workspaceId), eq(memberships.operatorId, operatorId))
        if (!row && tx.select({ role: memberships.role }).from(memberships).where(member).get()) return invite.workspaceId
        if (row) {
          if (emailTaken(tx, row.email)) return 'taken'
          tx.insert(operators).values(row).run()
          emit.audit(audit.operatorCreated(row), now)
        }
        tx.delete(invites).where(eq(invites.id, invite.id)).run()
        tx.insert(memberships).values({ workspaceId: invite.workspaceId, operatorId, role: invite.role, createdAt: now }).onConflictDoNothing().run()
        emit.audit(audit.joined(invite, operatorId), now)
        return invite.workspaceId
      })
    },
    async count() {
      return db.$count(operators)
    },
    async findByEmail(email) {
      return db.select().from(operators).where(eq(operators.email, email)).get()
    },
    async get(id) {
      return db.select().from(operators).where(eq(operators.id, id)).get()
    },
    async list() {
      return db.select().from(operators).orderBy(asc(operators.createdAt)).all()
    },
    setPassword(id, passwordHash) {
      return write(deps, (tx) => {
        if (tx.update(operators).set({ passwordHash }).where(eq(operators.id, id)).returning({ id: operators.id }).all().length === 0) return false
        tx.delete(sessions).where(eq(sessions.operatorId, id)).run()
        return true
      })
    },
    async signedIn(id, now) {
      await write(deps, (tx) => {
        tx.update(operators).set({ lastSignInAt: now }).where(eq(operators.id, id)).run()
      })
    },
    async role(workspaceId, operatorId) {
      return db
        .select({ role: memberships.role })
        .from(memberships)
        .where(and(eq(memberships.workspaceId, workspaceId), eq(memberships.operatorId, operatorId)))
        .get()?.role
    },
    async workspacesOf(operatorId) {
      return db
        .select({ workspace: workspaces, role: memberships.role })
        .from(memberships)
        .innerJoin(workspaces, eq(workspaces.id, memberships.workspaceId))
        .where(eq(memberships.operatorId, operatorId))
        .orderBy(asc(workspaces.createdAt), asc(workspaces.slug))
        .all()
    },
    insertWorkspace(row, operatorId) {
      return write(deps, (tx, emit) => {
        if (tx.select({ id: workspaces.id }).from(workspaces).where(eq(workspaces.slug, row.slug)).get()) return false
        tx.insert(workspaces).values(row).run()
        tx.insert(memberships).values({ workspaceId: row.id, operatorId, role: 'owner', createdAt: row.createdAt }).run()
        emit.audit(audit.workspaceCreated(row), row.createdAt)
        return true
      })
    },
    async members(workspaceId) {
      return db
        .select({ operatorId: operators.id, email: operators.email, role: memberships.role, createdAt: memberships.createdAt })
        .from(memberships)
        .innerJoin(operators, eq(operators.id, memberships.operatorId))
        .where(eq(memberships.workspaceId, workspaceId))
        .orderBy(asc(operators.email))
        .all()
    },
    setRole(workspaceId, operatorId, role, now) {
      return change(workspaceId, operatorId, role, now)
    },
    removeMember(workspaceId, operatorId, now) {
      return change(workspaceId, operatorId, null, now)
    },
    async insertInvite(row) {
      await write(deps, (tx, emit) => {
        tx.insert(invites).values(row).run()
        emit.audit(audit.invited(row), row.createdAt)
      })
    },
    async invites(workspaceId) {
      return db.select().from(invites).where(eq(invites.workspaceId, workspaceId)).orderBy(desc(invites.createdAt)).all()
    },
    async findInvite(hash) {
      return db.select().from(invites).where(eq(invites.hash, hash)).get()
    },
    revokeInvite(workspaceId, id, now) {
      return write(deps, (tx, emit) => {
        const where = and(eq(invites.workspaceId, workspaceId), eq(invites.id, id))
        if (tx.delete(invites).where(where).returning({ id: invites.id }).all().length === 0) return false
        emit.audit(audit.inviteRevoked(workspaceId, id), now)
        return true
      })
    },
  }
}
