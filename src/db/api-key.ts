/**
 * The API key as stored and what authenticating one yields, beside the schema it comes from: the auth plugin
 * consumes them, the api-keys module produces them, and neither imports the other.
 */
import type { apiKeys } from './schema'

/** An API key row (hash only, never the key). */
export type ApiKey = typeof apiKeys.$inferSelect

export type { AuthFailure } from '../errors/messages'
import type { AuthFailure } from '../errors/messages'

/** Checks a presented key ('' when none); wired in app.ts to the api-keys module's `authenticateKey`. */
export type Authenticate = (presented: string) => Promise<{ key: ApiKey } | { failure: AuthFailure }>

/** The authenticated key of a request, as routes see it. */
export interface Auth {
  key: ApiKey
  workspaceId: string
}
