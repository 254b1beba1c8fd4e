/** What a refused key is told, by the API and at the dashboard's sign-in, in one table so the two never drift apart. */

/** Why a presented key was refused. */
export type AuthFailure = 'missing' | 'malformed' | 'unknown' | 'revoked' | 'expired'

/** Why a sign-in can fail beyond the key itself: the dashboard needs a secret key with keys:manage. */
export type SignInFailure = AuthFailure | 'publishable' | 'scope'

/** The `detail` of a 401 for each way a presented key fails. */
export const API_AUTH_FAILURES: Record<AuthFailure, string> = {
  missing: "No API key. Send it as 'Authorization: Bearer ask_sk_…'.",
  malformed: 'The API key is malformed (wrong format or checksum).',
  unknown: 'The API key is not valid.',
  revoked: 'The API key has been revoked.',
  expired: 'The API key has expired.',
}

/** The `detail` of a 401 for each way a source URL's token fails (`/api/v1/in/{token}`). */
export const SOURCE_AUTH_FAILURES: Record<AuthFailure, string> = {
  missing: 'No source token in the URL; use the URL askad gave when the source was created.',
  malformed: 'The source URL is not valid (wrong format or checksum of its token).',
  unknown: 'The source URL is not valid.',
  revoked: 'This source URL has been revoked or replaced.',
  expired: 'This source URL has expired.',
}

/** What the sign-in page says for each failure, to a person typing a key. */
export const SIGN_IN_FAILURES: Record<SignInFailure, string> = {
  missing: 'Enter a secret API key.',
  malformed: 'That is not an askad key: keys look like ask_sk_… and carry a checksum, so check for a typo.',
  unknown: 'This key is not valid.',
  revoked: 'This key has been revoked.',
  expired: 'This key has expired.',
  publishable: 'Publishable keys (ask_pk_…) cannot sign in; use a secret key (ask_sk_…).',
  scope: 'This key lacks the keys:manage scope that signing in needs.',
}

/** A request that reached an API handler without passing the gate (auth and rate limits): refused, never served. */
export const NOT_GATED = 'This request did not pass the API gate (authentication and rate limits) and is refused.'

/** A secret key where only publishable keys may go. */
export const SECRET_KEY_IN_PAGE =
  "Secret keys (ask_sk_…) are not accepted in '?key=' or the '_key' form field, where proxy logs and browser history keep them; " +
  "send a secret key only as 'Authorization: Bearer …' from a server, or use a publishable key (ask_pk_…) in a page."

/** A secret key on a request from another site's page. */
export const SECRET_KEY_FROM_BROWSER = 'Secret keys must never be used from a browser page; use a publishable key (ask_pk_…) for browser capture.'

/** A source URL called from a browser page (an Origin header): it is a credential, readable by anyone viewing that page. */
export const SOURCE_FROM_BROWSER =
  "A source URL is for a tool's server (Zapier, HubSpot, Typeform…), never for a browser page, where anyone could read it; " +
  'for a form on a web page use browser capture with a publishable key (ask_pk_…).'

/** A valid key without the scope a route needs. */
export function missingScope(scope: string): string {
  return `This API key lacks the scope '${scope}' needed here.`
}

/** A key missing from a capture request, which may carry it in three places. */
export const NO_CAPTURE_KEY = "No API key. Send a publishable key (ask_pk_…) as 'Authorization: Bearer …', as '?key=' in the URL or as form field '_key'."

/**
 * How an operator lets webhooks reach an address the SSRF guard refuses (a receiver on their own
 * network): the setting and a ready value covering just that address.
 */
export function allowAddressHint(address: string): string {
  const single = address.includes(':') ? `${address}/128` : `${address}/32`
  return `to allow a receiver on your own network, start askad with ASKAD_WEBHOOK_ALLOW_CIDRS=${single} (or --webhook-allow-cidrs; comma-separated CIDRs, e.g. 10.0.0.0/8 for a whole network)`
}
