/** The dispatcher's pure `decide` stage, rule by rule from SPEC §7: no sockets, no database, a fixed clock and jitter. */
import { describe, expect, test } from 'bun:test'
import { AUTO_DISABLE_AFTER_MS, decide, DISABLED_FAILING, DISABLED_GONE, type AttemptFacts, type Decision, type DeliveryState } from '../../src/workers/decide'
import { DELIVERY_BACKOFF_MS, MAX_SCHEDULED_ATTEMPTS, MIN_WAIT_AFTER_TIMEOUT_OR_429_MS } from '../../src/workers/retry-policy'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const NOW = Date.parse('2026-11-01T12:00:00Z')
/** The attempt started a little before it ended. */
const STARTED = NOW - 250
/** No jitter: the factor is 1 − 0.2 + 0.4 × 0.5. */
const MIDDLE = () => 0.5

const fresh: DeliveryState = { attemptCount: 0, manual: false, scheduledBefore: 0, endpointEnabled: true, failingSince: null, lastSuccessAt: null }
/** A delivery after `n` failed scheduled attempts, its endpoint failing since `since`. */
const afterFailures = (n: number, since = STARTED - HOUR): DeliveryState => ({ ...fresh, attemptCount: n, scheduledBefore: n, failingSince: since })

const ok: AttemptFacts = { startedAt: STARTED, statusCode: 204, errorClass: null, retryAfterMs: null }
const http = (statusCode: number, retryAfterMs: number | null = null): AttemptFacts => ({ startedAt: STARTED, statusCode, errorClass: 'http', retryAfterMs })
const timeout: AttemptFacts = { startedAt: STARTED, statusCode: null, errorClass: 'timeout', retryAfterMs: null }
const unreachable: AttemptFacts = { startedAt: STARTED, statusCode: null, errorClass: 'connect', retryAfterMs: null }

interface Row {
  rule: string
  state: DeliveryState
  facts: AttemptFacts
  random?: () => number
  expected: Partial<Decision>
}

const retry = (ms: number) => ({ status: 'pending' as const, nextAttemptAt: NOW + ms })
const settled = { nextAttemptAt: null }

const rows: Row[] = [
  // Success: only 2xx; it settles the delivery and restarts the endpoint's health clock.
  {
    rule: 'a 2xx succeeds and marks the endpoint healthy',
    state: fresh,
    facts: ok,
    expected: { attempt: 1, trigger: 'scheduled', status: 'succeeded', ...settled, endpoint: { kind: 'healthy', lastSuccessAt: NOW } },
  },
  {
    rule: 'a success resets the failing clock',
    state: afterFailures(3),
    facts: ok,
    expected: { attempt: 4, status: 'succeeded', endpoint: { kind: 'healthy', lastSuccessAt: NOW } },
  },
  {
    rule: 'a second success in the same millisecond leaves the endpoint row alone',
    state: { ...fresh, lastSuccessAt: NOW },
    facts: ok,
    expected: { status: 'succeeded', endpoint: null },
  },
  {
    rule: 'a redirect (3xx) is a failure',
    state: fresh,
    facts: http(302),
    expected: { ...retry(5 * SECOND), endpoint: { kind: 'failing', failingSince: STARTED } },
  },

  // The schedule after each scheduled attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
  ...DELIVERY_BACKOFF_MS.map((wait, i) => ({
    rule: `scheduled attempt ${i + 1} fails: the next one in ${wait / SECOND} s`,
    state: afterFailures(i),
    facts: http(500),
    expected: { attempt: i + 1, trigger: 'scheduled' as const, ...retry(wait) },
  })),
  {
    rule: 'the last scheduled attempt fails: the delivery is failed',
    state: afterFailures(MAX_SCHEDULED_ATTEMPTS - 1),
    facts: http(500),
    expected: { attempt: MAX_SCHEDULED_ATTEMPTS, status: 'failed', ...settled, endpoint: null },
  },

  // Jitter: ±20 %.
  { rule: 'jitter at its low end: 80 % of the wait', state: fresh, facts: http(500), random: () => 0, expected: retry(4 * SECOND) },
  { rule: 'jitter at its high end: 120 % of the wait', state: afterFailures(1), facts: http(500), random: () => 0.999999, expected: retry(6 * MINUTE) },

  // Retry-After on 429/503: the longer of it and the schedule, at most schedule + 2 h.
  { rule: '503 with a longer Retry-After waits for it', state: afterFailures(1), facts: http(503, HOUR), expected: retry(HOUR) },
  {
    rule: '503 with a Retry-After past schedule + 2 h waits schedule + 2 h',
    state: afterFailures(1),
    facts: http(503, 10 * HOUR),
    expected: retry(5 * MINUTE + 2 * HOUR),
  },
  { rule: '503 with a shorter Retry-After keeps the schedule', state: afterFailures(1), facts: http(503, SECOND), expected: retry(5 * MINUTE) },
  { rule: '429 with a Retry-After waits for it', state: fresh, facts: http(429, 10 * MINUTE), expected: retry(10 * MINUTE) },
  { rule: 'Retry-After on any other status is ignored', state: afterFailures(1), facts: http(500, HOUR), expected: retry(5 * MINUTE) },

  // A timeout or a 429 waits at least 60 s.
  { rule: 'a timeout waits at least 60 s', state: fresh, facts: timeout, expected: retry(MIN_WAIT_AFTER_TIMEOUT_OR_429_MS) },
  { rule: 'a 429 without Retry-After waits at least 60 s', state: fresh, facts: http(429), expected: retry(MIN_WAIT_AFTER_TIMEOUT_OR_429_MS) },
  { rule: 'a timeout later in the schedule keeps the longer wait', state: afterFailures(2), facts: timeout, expected: retry(30 * MINUTE) },
  { rule: 'a connect error has no floor', state: fresh, facts: unreachable, expected: retry(5 * SECOND) },

  // 410 Gone disables the endpoint at once.
  {
    rule: '410 fails the delivery and disables the endpoint',
    state: fresh,
    facts: http(410),
    expected: { status: 'failed', ...settled, endpoint: { kind: 'disabled', reason: DISABLED_GONE, failingSince: STARTED } },
  },
  {
    rule: '410 keeps the failing clock it found',
    state: afterFailures(2, NOW - HOUR),
    facts: http(410),
    expected: { status: 'failed', endpoint: { kind: 'disabled', reason: DISABLED_GONE, failingSince: NOW - HOUR } },
  },
  {
    rule: '410 from an endpoint disabled meanwhile only starts its failing clock',
    state: { ...fresh, endpointEnabled: false },
    facts: http(410),
    expected: { status: 'failed', endpoint: { kind: 'failing', failingSince: STARTED } },
  },

  // The failing clock and auto-disable: no 2xx for 5 days and a delivery out of retries.
  {
    rule: 'the first failure starts the failing clock at the attempt start',
    state: fresh,
    facts: http(500),
    expected: { endpoint: { kind: 'failing', failingSince: STARTED } },
  },
  { rule: 'a failure while failing leaves the clock alone', state: afterFailures(1), facts: http(500), expected: { endpoint: null } },
  {
    rule: 'out of retries after 5 days without a 2xx: disabled',
    state: afterFailures(MAX_SCHEDULED_ATTEMPTS - 1, NOW - AUTO_DISABLE_AFTER_MS),
    facts: http(500),
    expected: { status: 'failed', endpoint: { kind: 'disabled', reason: DISABLED_FAILING, failingSince: NOW - AUTO_DISABLE_AFTER_MS } },
  },
  {
    rule: 'out of retries after less than 5 days: not disabled',
    state: afterFailures(MAX_SCHEDULED_ATTEMPTS - 1, NOW - AUTO_DISABLE_AFTER_MS + 1),
    facts: http(500),
    expected: { status: 'failed', endpoint: null },
  },
  {
    rule: 'failing for 5 days with retries left: not disabled',
    state: afterFailures(3, NOW - 6 * AUTO_DISABLE_AFTER_MS),
    facts: http(500),
    expected: { ...retry(2 * HOUR), endpoint: null },
  },
  {
    rule: 'out of retries after 5 days on an endpoint already disabled: left as it is',
    state: { ...afterFailures(MAX_SCHEDULED_ATTEMPTS - 1, NOW - AUTO_DISABLE_AFTER_MS), endpointEnabled: false },
    facts: http(500),
    expected: { status: 'failed', endpoint: null },
  },

  // Manual attempts do not use up the schedule.
  {
    rule: 'a manual retry of a never-tried delivery counts as the first step',
    state: { ...fresh, manual: true },
    facts: http(500),
    expected: { attempt: 1, trigger: 'manual', ...retry(5 * SECOND) },
  },
  {
    rule: 'a manual attempt waits as the last scheduled one did',
    state: { ...afterFailures(2), manual: true },
    facts: http(500),
    expected: { attempt: 3, trigger: 'manual', ...retry(5 * MINUTE) },
  },
  {
    rule: 'a manual attempt after the schedule is used up leaves the delivery failed',
    state: { ...afterFailures(MAX_SCHEDULED_ATTEMPTS), manual: true },
    facts: http(500),
    expected: { attempt: MAX_SCHEDULED_ATTEMPTS + 1, trigger: 'manual', status: 'failed', ...settled },
  },
  {
    rule: 'a manual attempt that succeeds',
    state: { ...afterFailures(MAX_SCHEDULED_ATTEMPTS), manual: true },
    facts: ok,
    expected: { attempt: MAX_SCHEDULED_ATTEMPTS + 1, trigger: 'manual', status: 'succeeded' },
  },
]

describe('decide', () => {
  test.each(rows.map((row) => [row.rule, row] as const))('%s', (_rule, row) => {
    expect(decide(row.state, row.facts, NOW, row.random ?? MIDDLE)).toMatchObject(row.expected)
  })

  test('a retry is always pending with a next attempt, a settled delivery never has one', () => {
    for (const row of rows) {
      const decision = decide(row.state, row.facts, NOW, row.random ?? MIDDLE)
      expect(decision.status === 'pending').toBe(decision.nextAttemptAt !== null)
    }
  })
})
