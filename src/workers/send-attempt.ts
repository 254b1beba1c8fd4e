/** One delivery attempt: SSRF check → signed POST to the checked address, with timeouts → a classified outcome. Never throws. */
import ipaddr from 'ipaddr.js'
import type { AttemptErrorClass } from '../db/schema'
import { checkUrl, type AddressRanges, type HostResolver } from '../lib/ssrf'
import { signatureHeader } from '../lib/signing'
import { parseRetryAfter } from './retry-policy'

/** Response bytes kept in the delivery log. */
const RESPONSE_BODY_MAX_BYTES = 20 * 1024
/** Whole attempt, from DNS to the last byte read (SPEC §7). */
export const ATTEMPT_TIMEOUT_MS = 15_000
/** Opening the TCP connection (SPEC §7); checked by a probe, see `TcpProbe`. */
export const CONNECT_TIMEOUT_MS = 5_000
/** Connect errors after which no byte was sent, so the next address of the host may be tried. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ConnectionRefused', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EAFNOSUPPORT'])

export interface AttemptRequest {
  url: string
  eventId: string
  /** The event body exactly as signed and sent. */
  payload: string
  /** Secrets that sign this attempt: the current one, and the previous during the 24 h after a rotation. */
  secrets: string[]
  /** The endpoint's static headers. */
  headers: Record<string, string>
  /**
   * Test the TCP connection first, within the connect timeout. Bun's fetch has no connect
   * timeout of its own, so a dead host would hold an attempt for the whole 15 s; the probe
   * costs a second connection, so it is made only for endpoints without a recent success.
   */
  probeConnect: boolean
}

/** Opens a TCP connection to address:port and closes it: 'ok', 'timeout', or the connect error. */
export type TcpProbe = (address: string, port: number, timeoutMs: number) => Promise<'ok' | 'timeout' | Error>

export interface AttemptEnv {
  fetch: typeof fetch
  resolveHost: HostResolver
  allow: AddressRanges
  /** Unix ms: the `webhook-timestamp` of this attempt. */
  now: number
  timeoutMs: number
  connectTimeoutMs: number
  connect: TcpProbe
  userAgent: string
  /** Aborts the attempt early (shutdown); it then ends as a timeout. */
  signal?: AbortSignal
}

export interface AttemptOutcome {
  statusCode: number | null
  errorClass: AttemptErrorClass | null
  errorMessage: string | null
  responseBody: string | null
  /** Retry-After of the answer, in ms from now. */
  retryAfterMs: number | null
  durationMs: number
}

/** Sends the event once and says what happened; success is any 2xx and nothing else. */
export async function sendAttempt(req: AttemptRequest, env: AttemptEnv): Promise<AttemptOutcome> {
  const started = performance.now()
  const done = (o: Omit<AttemptOutcome, 'durationMs'>): AttemptOutcome => ({ ...o, durationMs: Math.round(performance.now() - started) })
  const failed = (errorClass: AttemptErrorClass, errorMessage: string) =>
    done({ statusCode: null, errorClass, errorMessage, responseBody: null, retryAfterMs: null })

  // One timer per attempt, cleared when it ends: AbortSignal.timeout would keep every attempt's timer
  // (and with AbortSignal.any, its signals) alive for the full 15 s, tens of thousands of them under load.
  const controller = new AbortController()
  const deadline = setTimeout(() => controller.abort(new DOMException(`no answer within ${env.timeoutMs} ms`, 'TimeoutError')), env.timeoutMs)
  const cutOff = () => controller.abort(env.signal?.reason)
  if (env.signal?.aborted) cutOff()
  env.signal?.addEventListener('abort', cutOff, { once: true })
  try {
    return await attempt(req, env, controller.signal, done, failed)
  } finally {
    clearTimeout(deadline)
    env.signal?.removeEventListener('abort', cutOff)
  }
}

/** The attempt itself, cut off by `signal` (its deadline, or shutdown). */
async function attempt(
  req: AttemptRequest,
  env: AttemptEnv,
  signal: AbortSignal,
  done: (o: Omit<AttemptOutcome, 'durationMs'>) => AttemptOutcome,
  failed: (errorClass: AttemptErrorClass, errorMessage: string) => AttemptOutcome,
): Promise<AttemptOutcome> {
  const check = await Promise.race([checkUrl(req.url, env.allow, env.resolveHost), aborted(signal)])
  if (check === 'timeout') return failed('timeout', `no answer within ${env.timeoutMs} ms (resolving the host)`)
  if (!check.ok) return failed(check.reason, check.message)

  const timestamp = Math.floor(env.now / 1000)
  const headers = {
    ...req.headers,
    'content-type': 'application/json',
    'user-agent': env.userAgent,
    'webhook-id': req.eventId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(req.secrets, req.eventId, timestamp, req.payload),
  }
  let response!: Response
  for (const [i, address] of check.addresses.entries()) {
    const target = pinnedTarget(req.url, address)
    if (req.probeConnect) {
      const url = new URL(req.url)
      const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80))
      const probe = await Promise.race([env.connect(address.replace(/%.*$/, ''), port, Math.min(env.connectTimeoutMs, env.timeoutMs)), aborted(signal)])
      if (probe === 'timeout') return failed('timeout', `could not connect within ${env.connectTimeoutMs} ms`)
      if (probe !== 'ok') {
        if (i < check.addresses.length - 1) continue
        return failed('connect', probe.message)
      }
    }
    const tls = target.serverName ? { tls: { serverName: target.serverName } } : {}
    try {
      const init = {
        method: 'POST',
        headers: { ...headers, ...(target.host ? { host: target.host } : {}) },
        body: req.payload,
        redirect: 'manual' as const,
        signal,
        ...tls,
      }
      response = await env.fetch(target.url, init)
      break
    } catch (error) {
      // Like fetch on its own, move on to the next address when this one could not even be reached (nothing was sent).
      if (i < check.addresses.length - 1 && UNREACHABLE_CODES.has((error as { code?: string })?.code ?? '')) continue
      const { errorClass, message } = classifyFetchError(error)
      return failed(errorClass, errorClass === 'timeout' ? `no answer within ${env.timeoutMs} ms` : message)
    }
  }
  const responseBody = await readCapped(response)
  const statusCode = response.status
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), env.now)
  if (statusCode >= 200 && statusCode < 300) return done({ statusCode, errorClass: null, errorMessage: null, responseBody, retryAfterMs: null })
  const location = response.headers.get('location')
  const errorMessage = statusCode >= 300 && statusCode < 400 ? `redirect to ${location ?? '(no location)'} not followed` : `HTTP ${statusCode}`
  return done({ statusCode, errorClass: 'http', errorMessage, responseBody, retryAfterMs })
}

/**
 * Where to connect: the address the SSRF check approved, never a second DNS answer (which a
 * rebinding attacker controls). The URL then names the address; Host, TLS SNI and certificate
 * verification keep the host name.
 */
function pinnedTarget(raw: string, address: string): { url: string; host?: string; serverName?: string } {
  const url = new URL(raw)
  const name = url.hostname
  if (ipaddr.isValid(name.replace(/^\[(.*)\]$/, '$1'))) return { url: raw }
  const host = url.host
  // A URL cannot carry an IPv6 zone (fe80::1%eth0); without it the connect fails, it never falls back to DNS.
  const ip = address.replace(/%.*$/, '')
  url.hostname = ip.includes(':') ? `[${ip}]` : ip
  return { url: url.href, host, serverName: url.protocol === 'https:' ? name.replace(/\.$/, '') : undefined }
}

/** The real TcpProbe: Bun.connect, closed as soon as it opens. */
export const tcpProbe: TcpProbe = (address, port, timeoutMs) =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs)
    const settle = (result: 'ok' | Error) => {
      clearTimeout(timer)
      resolve(result)
    }
    Bun.connect({
      hostname: address,
      port,
      socket: {
        // A connection that opens after the timeout is closed the same way; the attempt has moved on.
        open: (socket) => {
          socket.end()
          settle('ok')
        },
        connectError: (_socket, error) => settle(error),
        data: () => {},
      },
    }).catch((error: Error) => settle(error))
  })

function aborted(signal: AbortSignal): Promise<'timeout'> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve('timeout'), { once: true }))
}

/** The first 20 KB of the body as text; whatever arrived if the body fails or the deadline passes. */
async function readCapped(response: Response): Promise<string | null> {
  if (!response.body) return null
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < RESPONSE_BODY_MAX_BYTES) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } catch {
    // A body cut short (or the attempt deadline) still leaves the status code and what we read.
  } finally {
    reader.cancel().catch(() => {})
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, RESPONSE_BODY_MAX_BYTES))
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'DNSException'])

/** Maps what fetch threw to the delivery log's error classes. */
function classifyFetchError(error: unknown): { errorClass: AttemptErrorClass; message: string } {
  const e = error as { name?: string; code?: string; message?: string }
  const message = e?.message ?? String(error)
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { errorClass: 'timeout', message }
  const code = e?.code ?? ''
  if (DNS_CODES.has(code)) return { errorClass: 'dns', message }
  if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME_MISMATCH/i.test(code) || /certificate|tls|ssl/i.test(message)) return { errorClass: 'tls', message }
  return { errorClass: 'connect', message }
}
