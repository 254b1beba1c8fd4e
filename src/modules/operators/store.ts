/** The storage of operators, their workspace memberships and invites: one interface, a SQLite and a PostgreSQL implementation. */
import type { invites, memberships, operators } from '../../db/schema'
import type { ServiceDeps } from '../../deps'
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
   * invite is used, revoked or expired, or 'taken' when `row`'s email exists.
   */
  acceptInvite(hash: string, operatorId: string, now: number, row?: Operator): Promise<string | 'gone' | 'taken'>
  count(): Promise<number>
  findByEmail(email: string): Promise<Operator | undefined>
  get(id: string): Promise<Operator | undefined>
  list(): Promise<Operator[]>
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
  setRole(workspaceId: string, operatorId: string, role: Role): Promise<MemberChange>
  /** Removes a member; never the last owner. */
  removeMember(workspaceId: string, operatorId: string): Promise<MemberChange>
  insertInvite(row: Invite): Promise<void>
  /** A workspace's invites not yet used or revoked, newest first (expired ones included, marked by their expiry). */
  invites(workspaceId: string): Promise<Invite[]>
  /** An invite by token hash (whatever its expiry). */
  findInvite(hash: string): Promise<Invite | undefined>
  /** Deletes an invite of the workspace; false when there is none. */
  revokeInvite(workspaceId: string, id: string): Promise<boolean>
}

/** The operator store of the engine the deps run on. */
export function operatorsStore(deps: Pick<ServiceDeps, 'db' | 'pg'>): OperatorsStore {
  return deps.pg ? pgOperatorsStore(deps.pg) : sqliteOperatorsStore(deps.db)
}

/** True when a change would leave the workspace without an owner: it takes away the role of its only one. */
export function leavesNoOwner(owners: string[], operatorId: string, newRole: Role | null): boolean {
  return newRole !== 'owner' && owners.length === 1 && owners[0] === operatorId
}
