/**
 * Who is acting: what the audit log records for a change. A request's actor is the operator of its
 * dashboard session or the API key it presented, with the client IP; the CLI and the process itself
 * (bootstrap, workers) act as themselves.
 */

export const ACTOR_TYPES = ['operator', 'key', 'cli', 'system'] as const
export type ActorType = (typeof ACTOR_TYPES)[number]

export interface Actor {
  type: ActorType
  /** The operator's or key's id; null for the CLI and the system. */
  id: string | null
  /** What a reader recognises: the operator's email, the key's prefix (`ask_sk_3fA9…`), `cli`, `system`. */
  label: string
  /** The client IP of the request; null outside a request. */
  ip: string | null
}

/** The process itself: bootstrap, workers, anything without a request. */
export const SYSTEM_ACTOR: Actor = { type: 'system', id: null, label: 'system', ip: null }

/** The admin CLI, run by whoever has the database file (or URL). */
export const CLI_ACTOR: Actor = { type: 'cli', id: null, label: 'cli', ip: null }

/** An API key acting (its prefix is what listings show; the key itself is never recorded). */
export function keyActor(key: { id: string; prefix: string }, ip: string | null): Actor {
  return { type: 'key', id: key.id, label: `${key.prefix}…`, ip }
}

/** An operator acting in the dashboard (their email is what listings show). */
export function operatorActor(operator: { id: string; email: string }, ip: string | null): Actor {
  return { type: 'operator', id: operator.id, label: operator.email, ip }
}
