/**
 * Fault benchmark: a receiver that answers 500, then hangs, then resets connections, then
 * recovers — against the compiled executable. Every event must arrive after the recovery, under
 * its original webhook-id, with every attempt in the delivery log. The schedule's later steps
 * (5 min, 30 min) are too long for a bounded run, so after the scheduled first attempt and the
 * scheduled 5 s retry, the reset and recovery rounds are triggered through the manual retry API.
 * Usage: bun test/bench/fault-receiver.ts [events ≤ 80, default 40]   (bounded: < 3 minutes, traffic only to 127.0.0.1)
 */
import { join } from 'node:path'
import type { Received } from '../webhooks-helpers'

export type FaultPhase = 'error' | 'hang' | 'reset' | 'ok'

export interface FaultyReceiver {
  url: string
  /** What the receiver does with the next requests. */
  phase: FaultPhase
  /** Every request that arrived in full, with the phase it met. */
  received: { phase: FaultPhase; request: Received }[]
  stop(): void
}

/** Parses one HTTP/1.1 request from raw bytes (latin1, so string length = byte length); null until complete. */
function parseRequest(raw: string): Received | null {
  const end = raw.indexOf('\r\n\r\n')
  if (end < 0) return null
  const [requestLine, ...lines] = raw.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const length = Number(headers['content-length'] ?? 0)
  if (raw.length < end + 4 + length) return null
  const body = Buffer.from(raw.slice(end + 4, end + 4 + length), 'latin1').toString('utf8')
  return { path: requestLine!.split(' ')[1] ?? '/', headers, body, at: performance.now() }
}

const answer = (status: number, text: string) =>
  `HTTP/1.1 ${status} ${status === 204 ? 'No Content' : 'Internal Server Error'}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`

/**
 * A raw TCP receiver on 127.0.0.1 whose behaviour is switched by phase: `error` answers 500,
 * `hang` reads the request and never answers, `reset` drops the connection without a byte,
 * `ok` answers 204.
 */
export function startFaultyReceiver(): FaultyReceiver {
  const rx: FaultyReceiver = { url: '', phase: 'error', received: [], stop: () => listener.stop(true) }
  const listener = Bun.listen<{ raw: string; answered: boolean }>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(socket) {
        socket.data = { raw: '', answered: false }
      },
      data(socket, chunk) {
        if (socket.data.answered) return
        socket.data.raw += Buffer.from(chunk).toString('latin1')
        const request = parseRequest(socket.data.raw)
        if (!request) return
        socket.data.answered = true
        const phase = rx.phase
        rx.received.push({ phase, request })
        if (phase === 'error') socket.end(answer(500, 'receiver is down'))
        else if (phase === 'reset') socket.terminate()
        else if (phase === 'ok') socket.end(answer(204, ''))
        // 'hang': keep the connection open and silent; the sender's deadline has to end it.
      },
    },
  })
  rx.url = `http://127.0.0.1:${listener.port}`
  return rx
}

if (import.meta.main) {
  const { generateKey } = await import('../../src/lib/keys')
  const { ATTEMPT_TIMEOUT_MS } = await import('../../src/workers/send-attempt')
  const { DELIVERY_BACKOFF_MS } = await import('../../src/workers/retry-policy')
  const { ensureExecutable, startServer } = await import('../exe')
  const { printTable, tempDir } = await import('./lib')

  const { MAX_IN_FLIGHT_PER_ENDPOINT } = await import('../../src/workers/dispatcher')
  /** The hang phase takes ⌈events / 10⌉ × 15 s (10 attempts in flight per endpoint), so events are capped to stay under 3 minutes. */
  const MAX_EVENTS = 80
  const EVENTS = Math.min(MAX_EVENTS, Number(process.argv[2] ?? 40))
  /** Longest wait for one phase. */
  const PHASE_TIMEOUT_MS = Math.ceil(EVENTS / MAX_IN_FLIGHT_PER_ENDPOINT) * ATTEMPT_TIMEOUT_MS + 30_000

  const dir = tempDir('fault-receiver')
  const key = generateKey('secret')
  const server = await startServer([ensureExecutable(), 'serve'], {
    cwd: dir,
    env: {
      ASKAD_DB: join(dir, 'askad.db'),
      ASKAD_BOOTSTRAP_KEY: key,
      ASKAD_RATE_LIMIT: '1000000000/1s',
      ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
      LOG_LEVEL: 'warn',
    },
  })
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as any }
  }
  type Attempt = {
    attempt: number
    trigger: string
    status_code: number | null
    error_class: string | null
    next_attempt_at: string | null
    started_at: string
    duration_ms: number
  }
  type Delivery = { id: string; event_id: string; status: string; attempts: Attempt[] }
  const deliveries = async (): Promise<Delivery[]> => {
    const all: Delivery[] = []
    for (let page = 1; ; page++) {
      const res = await call('GET', `/webhooks/${endpoint.id}/deliveries?limit=200&page=${page}`)
      all.push(...res.body.data)
      if (!res.body.pagination.has_more) return all
    }
  }
  const waitFor = async (what: string, check: () => boolean | Promise<boolean>) => {
    const deadline = performance.now() + PHASE_TIMEOUT_MS
    while (!(await check())) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await Bun.sleep(100)
    }
  }
  const attemptsMade = async (n: number) => (await deliveries()).every((d) => d.attempts.length >= n)

  const rx = startFaultyReceiver()
  const endpoint = (await call('POST', '/webhooks', { url: `${rx.url}/hooks`, events: ['lead.created'] })).body
  const started = performance.now()
  const phaseRows: Record<string, string | number>[] = []
  const phase = async (name: FaultPhase, how: string, run: () => Promise<void>) => {
    const t0 = performance.now()
    const before = rx.received.length
    rx.phase = name
    await run()
    phaseRows.push({ phase: name, trigger: how, 'requests seen': rx.received.length - before, seconds: (performance.now() - t0) / 1000 })
  }
  const retryAll = async () => {
    for (const d of await deliveries()) {
      const res = await call('POST', `/webhooks/${endpoint.id}/deliveries/${d.id}/retry`)
      if (res.status !== 202) throw new Error(`retry ${d.id}: ${res.status} ${JSON.stringify(res.body)}`)
    }
  }

  const leadIds: string[] = []
  await phase('error', 'new leads (scheduled attempt 1)', async () => {
    for (let i = 0; i < EVENTS; i++) leadIds.push((await call('POST', '/leads/inbound', { email: `fault${i}@example.com` })).body.id)
    await waitFor('the first attempts', () => attemptsMade(1))
  })
  // The scheduled retry comes ~5 s after the 500; the receiver now hangs until the 15 s deadline.
  await phase('hang', `schedule (+${DELIVERY_BACKOFF_MS[0]! / 1000} s ±20 %)`, () => waitFor('the timed-out attempts', () => attemptsMade(2)))
  await phase('reset', 'manual retry API', async () => {
    await retryAll()
    await waitFor('the reset attempts', () => attemptsMade(3))
  })
  await phase('ok', 'manual retry API', async () => {
    await retryAll()
    await waitFor('every delivery to succeed', async () => (await deliveries()).every((d) => d.status === 'succeeded'))
  })
  const total = (performance.now() - started) / 1000

  const final = await deliveries()
  const expected = ['http', 'timeout', 'connect', null]
  const pattern = (d: Delivery) => d.attempts.map((a) => a.error_class)
  const asExpected = final.filter((d) => JSON.stringify(pattern(d)) === JSON.stringify(expected)).length
  const okIds = rx.received.filter((r) => r.phase === 'ok').map((r) => r.request.headers['webhook-id'])
  const eventIds = new Set(final.map((d) => d.event_id))
  const okPerEvent = new Map<string, number>()
  for (const id of okIds) okPerEvent.set(id!, (okPerEvent.get(id!) ?? 0) + 1)
  const everyIdKept = rx.received.every((r) => eventIds.has(r.request.headers['webhook-id']!))
  const timeouts = final.flatMap((d) => d.attempts.filter((a) => a.error_class === 'timeout').map((a) => a.duration_ms))
  const firstWaits = final.map((d) => Date.parse(d.attempts[0]!.next_attempt_at!) - Date.parse(d.attempts[0]!.started_at))

  printTable(`fault receiver: ${EVENTS} lead.created events, one endpoint (attempt deadline ${ATTEMPT_TIMEOUT_MS / 1000} s)`, phaseRows)
  printTable('fault receiver: outcome', [
    { check: 'deliveries succeeded after recovery', value: `${final.filter((d) => d.status === 'succeeded').length}/${EVENTS}` },
    { check: 'attempt log is http 500 → timeout → connect → 2xx', value: `${asExpected}/${EVENTS}` },
    { check: 'events that reached the recovered receiver', value: `${okPerEvent.size}/${EVENTS}` },
    { check: 'every request carried its event id as webhook-id', value: everyIdKept ? 'yes' : 'NO' },
    {
      check: 'wait after the 500 (s, min–max; schedule 5 ± 1)',
      value: `${(Math.min(...firstWaits) / 1000).toFixed(2)}–${(Math.max(...firstWaits) / 1000).toFixed(2)}`,
    },
    { check: 'timed-out attempt duration (s, min–max)', value: `${(Math.min(...timeouts) / 1000).toFixed(2)}–${(Math.max(...timeouts) / 1000).toFixed(2)}` },
    { check: 'whole run (s)', value: total.toFixed(1) },
  ])
  const ok = final.length === EVENTS && asExpected === EVENTS && okPerEvent.size === EVENTS && everyIdKept && leadIds.length === EVENTS
  console.log(`\nfault receiver: ${ok ? 'PASS' : 'FAIL'}`)
  rx.stop()
  await server.stop()
  process.exit(ok ? 0 : 1)
}
