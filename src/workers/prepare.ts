/**
 * The dispatcher's `prepare` stage: a claimed delivery as stored → the request of its attempt, with
 * the endpoint's secrets and header values opened with the secret box. Signing happens as the attempt
 * is sent (send-attempt.ts), with these secrets and the attempt's own timestamp.
 */
import type { SecretBox } from '../lib/secret-box'
import { openHeaders } from '../modules/webhooks/at-rest'
import type { ClaimedJob } from './dispatch-store'
import type { AttemptRequest } from './send-attempt'

/** What an attempt started at `now` sends; throws SecretKeyError when a stored secret does not open. */
export function prepareAttempt(job: ClaimedJob, box: SecretBox, now: number): AttemptRequest {
  const secrets = [box.open(job.secret)]
  // For 24 h after a rotation the previous secret signs too.
  if (job.previous_secret && (job.previous_secret_expires_at ?? 0) > now) secrets.push(box.open(job.previous_secret))
  return {
    url: job.url,
    eventId: job.event_id,
    payload: job.payload,
    secrets,
    headers: openHeaders(box, JSON.parse(job.headers) as Record<string, string>),
    probeConnect: job.unproven === 1,
  }
}
