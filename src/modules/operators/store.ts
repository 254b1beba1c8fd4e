/** The storage of operators, their workspace memberships and invites: one interface, a SQLite and a PostgreSQL implementation. */
import type { invites, memberships, operators } from '../../db/schema'
import type { AuditEntry } from '../../db/audit'
import type { ServiceDeps } from '../../deps'
import type { Actor } from '../../lib/actor'
import type { Workspace } from '../workspaces/store'
import { pgOperatorsStore } from './store.pg'
import { sqliteOperatorsStore } from './store.sqlite'

export type Operator = typeof operators.$inferSelect
export type Membership = typeof memberships.$inferSelect
export type Invite = typeof invites.$inferSelect
export type Role = Membership['role']

/** A member of a workspace as its members page lists it. */
export interface Member {
  operatorId: string
  email: string
  role: Role
  createdAt: number
}

/** What a change of a membership found: done, no such member, or refused because it would leave no owner. */
export type MemberChange = 'done' | 'missing' | 'last-owner'

/** What the operator service needs of storage; each write is one transaction. */
export interface OperatorsStore {
  /** Stores an operator who becomes owner of every workspace that exists (the agency owner); false when the email is taken. */
  insertOwner(row: Operator, now: number): Promise<boolean>
  /**
   * Uses up a live invite (by token hash) and makes the operator a member with its role, in one
   * transaction; with `row`, the operator is created first. The workspace id, or 'gone' when the
   * invite is used, revoked or expired, or 'taken' when `row`'s email exists. An operator who is a
   * member already changes nothing (the invite stays live): the workspace id.
   */
  acceptInvite(hash: string, operatorId: string, now: number, row?: Operator): Promise<string | 'gone' | 'taken'>
  count(): Promise<number>
  findByEmail(email: string): Promise<Operator | undefined>
  get(id: string): Promise<Operator | undefined>
  list(): Promise<Operator[]>
  /** Sets a new password hash and ends the operator's sessions (a reset is often because the old one leaked). */
  setPassword(id: string, passwordHash: string): Promise<boolean>
  signedIn(id: string, now: number): Promise<void>
  /** The operator's role in a workspace, or undefined when not a member. */
  role(workspaceId: string, operatorId: string): Promise<Role | undefined>
  /** The workspaces an operator is a member of, oldest first, with the role in each. */
  workspacesOf(operatorId: string): Promise<{ workspace: Workspace; role: Role }[]>
  /** Stores a workspace and makes the operator its owner; false when the slug is taken. */
  insertWorkspace(row: Workspace, operatorId: string): Promise<boolean>
  members(workspaceId: string): Promise<Member[]>
  /** Changes a member's role; never leaves a workspace without an owner. */
  setRole(workspaceId: string, operatorId: string, role: Role, now: number): Promise<MemberChange>
  /** Removes a member; never the last owner. */
  removeMember(workspaceId: string, operatorId: string, now: number): Promise<MemberChange>
  insertInvite(row: Invite): Promise<void>
  /** A workspace's invites not yet used or revoked, newest first (expired ones included, marked by their expiry). */
  invites(workspaceId: string): Promise<Invite[]>
  /** An invite by token hash (whatever its expiry). */
  findInvite(hash: string): Promise<Invite | undefined>
  /** Deletes an invite of the workspace; false when there is none. */
  revokeInvite(workspaceId: string, id: string, now: number): Promise<boolean>
}

/** What the stores need: the engine, and who acts (the audit log records each change in its own transaction). */
export type OperatorsStoreDeps = Pick<ServiceDeps, 'db' | 'pg'> & { actor?: Actor }

/** The operator store of the engine the deps run on. */
export function operatorsStore(deps: OperatorsStoreDeps): OperatorsStore {
  return deps.pg ? pgOperatorsStore(deps.pg, deps.actor) : sqliteOperatorsStore(deps.db, deps.actor)
}

/** The audit-log entries of operator and membership changes, alike on both engines. */
export const audit = {
  operatorCreated: (o: Operator): AuditEntry => ({
    workspaceId: null,
    action: 'operator.created',
    target: { type: 'operator', id: o.id },
    details: { email: o.email },
  }),
  workspaceCreated: (w: Workspace): AuditEntry => ({
    workspaceId: w.id,
    action: 'workspace.created',
    target: { type: 'workspace', id: w.id },
    details: { slug: w.slug, name: w.name },
  }),
  joined: (i: Invite, operatorId: string): AuditEntry => ({
    workspaceId: i.workspaceId,
    action: 'member.joined',
    target: { type: 'operator', id: operatorId },
    details: { role: i.role, invite: i.id },
  }),
  invited: (i: Invite): AuditEntry => ({
    workspaceId: i.workspaceId,
    action: 'member.invited',
    target: { type: 'invite', id: i.id },
    details: { role: i.role },
  }),
  inviteRevoked: (workspaceId: string, id: string): AuditEntry => ({ workspaceId, action: 'invite.revoked', target: { type: 'invite', id } }),
  roleChanged: (workspaceId: string, operatorId: string, from: Role, to: Role): AuditEntry => ({
    workspaceId,
    action: 'member.role_changed',
    target: { type: 'operator', id: operatorId },
    details: { from, to },
  }),
  removed: (workspaceId: string, operatorId: string, role: Role): AuditEntry => ({
    workspaceId,
    action: 'member.removed',
    target: { type: 'operator', id: operatorId },
    details: { role },
  }),
}

/** True when a change would leave the workspace without an owner: it takes away the role of its only one. */
export function leavesNoOwner(owners: string[], operatorId: string, newRole: Role | null): boolean {
  return newRole !== 'owner' && owners.length === 1 && owners[0] === operatorId
}
