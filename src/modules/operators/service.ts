/**
 * Operators: the people who sign in to the dashboard by email and password, and their places in
 * workspaces. Passwords are hashed with argon2id (Bun.password); emails are compared trimmed and
 * lower-cased. Each membership has a role, which maps onto the API's scopes (ROLE_SCOPES), so the
 * dashboard checks an operator's rights exactly like a key's. Invites are one-time links: only the
 * SHA-256 of their token is stored, they expire after 7 days, and using or revoking one deletes it.
 */
import type { ClockDeps, ReadDeps } from '../../deps'
import { operatorActor, type Actor } from '../../lib/actor'
import { ApiError, invalid } from '../../errors'
import { iso } from '../../lib/clock'
import { newId } from '../../lib/ids'
import { SCOPES, type Scope } from '../../lib/scopes'
import { hashToken } from '../sessions/service'
import type { Workspace } from '../workspaces/store'
import { operatorsStore, type Invite, type Member, type Operator, type Role } from './store'

export type { Invite, Member, Operator, Role } from './store'

/** Deps of a change: storage, time, and who acts (what the audit log records). */
export type ActingDeps = ClockDeps & { actor?: Actor }

export const ROLES: Role[] = ['owner', 'admin', 'viewer']

/** What each role may do, as API scopes: viewers read, admins do all the API allows, owners too (plus members and deletion). */
export const ROLE_SCOPES: Record<Role, Scope[]> = {
  owner: [...SCOPES],
  admin: [...SCOPES],
  viewer: SCOPES.filter((s) => s.endsWith(':read')),
}

/** Shorter passwords are refused: argon2id slows guessing, it cannot save a short password. */
export const PASSWORD_MIN_CHARS = 10
/** Longer ones are refused too: hashing is deliberately slow, so its input stays bounded. */
export const PASSWORD_MAX_BYTES = 200
/** Emails longer than this are no email (RFC 5321 bounds a path at 256). */
const EMAIL_MAX_CHARS = 254
/** How long an invite link works. */
export const INVITE_TTL_MS = 7 * 24 * 60 * 60 * 1000
const TOKEN_BYTES = 32

/**
 * Argon2id hashes and verifications running at once; more wait their turn. Each takes 64 MiB and
 * tens of milliseconds on purpose, so a burst of sign-ins must queue rather than exhaust memory.
 */
export const HASHING_AT_ONCE = 2
let hashing = 0
const waiting: (() => void)[] = []

/** Runs one argon2id operation when a slot is free. */
export async function hashSlot<T>(work: () => Promise<T>): Promise<T> {
  if (hashing >= HASHING_AT_ONCE) await new Promise<void>((resolve) => waiting.push(resolve))
  else hashing++
  try {
    return await work()
  } finally {
    const next = waiting.shift()
    if (next) next()
    else hashing--
  }
}

/** Verified against when the email is unknown, so a sign-in takes as long whether or not the email exists. */
let decoyHash: Promise<string> | undefined

/** The email as stored and compared: trimmed, lower-cased, and roughly the shape of one. */
export function normalizeEmail(email: string): string {
  const value = email.trim().toLowerCase()
  if (value.length > EMAIL_MAX_CHARS || !/^[^\s@]+@[^\s@]+$/.test(value)) throw invalid('/email', 'must be an email address like name@example.com')
  return value
}

/** Hashes a password after checking its length (argon2id; the hash starts with `$argon2id$`). */
export function hashPassword(password: string): Promise<string> {
  if (password.length < PASSWORD_MIN_CHARS) throw invalid('/password', `must be at least ${PASSWORD_MIN_CHARS} characters long`)
  if (Buffer.byteLength(password) > PASSWORD_MAX_BYTES) throw invalid('/password', `must be at most ${PASSWORD_MAX_BYTES} bytes long`)
  return hashSlot(() => Bun.password.hash(password, 'argon2id'))
}

/** The public shape of an operator (never the hash). */
export function serializeOperator(o: Operator) {
  return { id: o.id, email: o.email, created_at: iso(o.createdAt)!, last_sign_in_at: iso(o.lastSignInAt) }
}

async function newOperator(deps: ClockDeps, email: string, password: string): Promise<Operator> {
  const normalized = normalizeEmail(email)
  return { id: newId(), email: normalized, passwordHash: await hashPassword(password), createdAt: deps.clock.now(), lastSignInAt: null }
}

function emailTaken(email: string): ApiError {
  return new ApiError('conflict', `An operator with email '${email}' already exists.`)
}

/** Creates an operator who owns every existing workspace (the agency owner): the CLI and the first-run setup. */
export async function createOwner(deps: ActingDeps, input: { email: string; password: string }): Promise<Operator> {
  const row = await newOperator(deps, input.email, input.password)
  if (!(await operatorsStore(deps).insertOwner(row, row.createdAt))) throw emailTaken(row.email)
  return row
}

/** True once any operator exists (the first-run setup is then over). */
export async function anyOperator(deps: ReadDeps): Promise<boolean> {
  return (await operatorsStore(deps).count()) > 0
}

export function listOperators(deps: ReadDeps): Promise<Operator[]> {
  return operatorsStore(deps).list()
}

/** An operator by email (trimmed, case-blind); 404 when there is none. */
export async function operatorByEmail(deps: ReadDeps, email: string): Promise<Operator> {
  const operator = await operatorsStore(deps).findByEmail(normalizeEmail(email))
  if (!operator) throw new ApiError('not_found', `No operator with email '${email.trim()}'.`)
  return operator
}

export function getOperator(deps: ReadDeps, id: string): Promise<Operator | undefined> {
  return operatorsStore(deps).get(id)
}

/** Sets a new password (`askad operator password`), signing the operator out everywhere; 404 for an unknown email. */
export async function resetPassword(deps: ClockDeps, email: string, password: string): Promise<Operator> {
  const store = operatorsStore(deps)
  const operator = await operatorByEmail(deps, email)
  const passwordHash = await hashPassword(password)
  await store.setPassword(operator.id, passwordHash)
  return { ...operator, passwordHash }
}

/**
 * The operator whose email and password these are, or null. An unknown email still costs one
 * argon2id verification, so the answer's timing does not tell which emails exist.
 */
export async function checkPassword(deps: ClockDeps, email: string, password: string): Promise<Operator | null> {
  let operator: Operator | undefined
  try {
    operator = Buffer.byteLength(password) > PASSWORD_MAX_BYTES ? undefined : await operatorsStore(deps).findByEmail(normalizeEmail(email))
  } catch (error) {
    if (!(error instanceof ApiError)) throw error
  }
  decoyHash ??= hashSlot(() => Bun.password.hash(crypto.randomUUID(), 'argon2id'))
  const hash = operator?.passwordHash ?? (await decoyHash)
  const matches = await hashSlot(() => Bun.password.verify(password.slice(0, PASSWORD_MAX_BYTES), hash)).catch(() => false)
  if (!operator || !matches) return null
  await operatorsStore(deps).signedIn(operator.id, deps.clock.now())
  return operator
}

/** The operator's role in a workspace, or undefined when not a member. */
export function roleIn(deps: ReadDeps, workspaceId: string, operatorId: string): Promise<Role | undefined> {
  return operatorsStore(deps).role(workspaceId, operatorId)
}

/** The workspaces an operator may open, with the role in each. */
export function workspacesOf(deps: ReadDeps, operatorId: string): Promise<{ workspace: Workspace; role: Role }[]> {
  return operatorsStore(deps).workspacesOf(operatorId)
}

/** Stores a new workspace (checked by the workspace service) with the operator as its owner; 409 when its slug is taken. */
export async function insertOwnedWorkspace(deps: ActingDeps, row: Workspace, operatorId: string): Promise<void> {
  if (!(await operatorsStore(deps).insertWorkspace(row, operatorId))) throw new ApiError('conflict', `Workspace '${row.slug}' already exists.`)
}

export function listMembers(deps: ReadDeps, workspaceId: string): Promise<Member[]> {
  return operatorsStore(deps).members(workspaceId)
}

function isRole(value: string): value is Role {
  return (ROLES as string[]).includes(value)
}

/** Checks a role from a form or flag. */
export function parseRole(value: string | undefined): Role {
  if (!value || !isRole(value)) throw invalid('/role', `must be one of ${ROLES.join(', ')}`)
  return value
}

const LAST_OWNER = 'A workspace always keeps at least one owner: make another member owner first.'

/** Changes a member's role; the last owner is never demoted. */
export async function changeRole(deps: ActingDeps, workspaceId: string, operatorId: string, role: Role): Promise<void> {
  const result = await operatorsStore(deps).setRole(workspaceId, operatorId, role, deps.clock.now())
  if (result === 'missing') throw new ApiError('not_found', 'No such member in this workspace.')
  if (result === 'last-owner') throw new ApiError('conflict', LAST_OWNER)
}

/** Removes a member (their sessions lose the workspace at once); never the last owner. */
export async function removeMember(deps: ActingDeps, workspaceId: string, operatorId: string): Promise<void> {
  const result = await operatorsStore(deps).removeMember(workspaceId, operatorId, deps.clock.now())
  if (result === 'missing') throw new ApiError('not_found', 'No such member in this workspace.')
  if (result === 'last-owner') throw new ApiError('conflict', LAST_OWNER)
}

/** Creates an invite; the token (for the link) is returned once, only its hash is stored. */
export async function createInvite(deps: ActingDeps, workspaceId: string, role: Role): Promise<{ invite: Invite; token: string }> {
  const token = Buffer.from(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES))).toString('base64url')
  const now = deps.clock.now()
  // Made by an operator (the acting one), the invite goes when they leave the workspace.
  const createdBy = deps.actor?.type === 'operator' ? deps.actor.id : null
  const invite: Invite = { id: newId(), workspaceId, hash: hashToken(token), role, createdAt: now, expiresAt: now + INVITE_TTL_MS, createdBy }
  await operatorsStore(deps).insertInvite(invite)
  return { invite, token }
}

export function listInvites(deps: ReadDeps, workspaceId: string): Promise<Invite[]> {
  return operatorsStore(deps).invites(workspaceId)
}

export async function revokeInvite(deps: ActingDeps, workspaceId: string, id: string): Promise<void> {
  if (!(await operatorsStore(deps).revokeInvite(workspaceId, id, deps.clock.now())))
    throw new ApiError('not_found', 'No such invite (used or revoked already).')
}

/** A live invite by its link's token, or undefined (unknown, used, revoked or expired). */
export async function findInvite(deps: ClockDeps, token: string): Promise<Invite | undefined> {
  const invite = await operatorsStore(deps).findInvite(hashToken(token))
  return invite && invite.expiresAt > deps.clock.now() ? invite : undefined
}

const INVITE_GONE = 'This invite link is not valid: it was used, revoked or has expired. Ask for a new one.'

/** An existing operator accepts an invite; resolves with the workspace id. */
export async function acceptInvite(deps: ActingDeps, token: string, operatorId: string): Promise<string> {
  const result = await operatorsStore(deps).acceptInvite(hashToken(token), operatorId, deps.clock.now())
  if (result === 'gone' || result === 'taken') throw new ApiError('not_found', INVITE_GONE)
  return result
}

/** A new person accepts an invite by creating an operator account; resolves with the operator and the workspace id. */
export async function joinByInvite(
  deps: ActingDeps,
  token: string,
  input: { email: string; password: string },
): Promise<{ operator: Operator; workspaceId: string }> {
  const operator = await newOperator(deps, input.email, input.password)
  // The new operator acts here (from the request's address): the log names who joined.
  const acting = { ...deps, actor: operatorActor(operator, deps.actor?.ip ?? null) }
  const result = await operatorsStore(acting).acceptInvite(hashToken(token), operator.id, operator.createdAt, operator)
  if (result === 'gone') throw new ApiError('not_found', INVITE_GONE)
  if (result === 'taken') throw new ApiError('conflict', `An operator with email '${operator.email}' already exists: sign in to accept the invite.`)
  return { operator, workspaceId: result }
}
