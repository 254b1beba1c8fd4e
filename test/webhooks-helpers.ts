/** Webhook test helpers: a real receiver on 127.0.0.1 and Standard Webhooks verification at test-clock time. */
import { setSystemTime } from 'bun:test'
import { Webhook } from 'standardwebhooks'

export interface Received {
  path: string
  headers: Record<string, string>
  body: string
  /** Real time it arrived (performance.now()). */
  at: number
}

export interface Receiver {
  url: string
  requests: Received[]
  /** Requests being answered right now. */
  open: () => number
  /** Highest number of requests open at the same time. */
  peakOpen: () => number
  stop(): void
}

export type Answer = (req: Received, index: number) => Response | Promise<Response>

/** A Bun.serve receiver on 127.0.0.1 recording every request; `answer` decides each response (default 204). */
export function startReceiver(answer: Answer = () => new Response(null, { status: 204 })): Receiver {
  const requests: Received[] = []
  let open = 0
  let peak = 0
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    idleTimeout: 0,
    async fetch(request) {
      const received: Received = {
        path: new URL(request.url).pathname,
        headers: Object.fromEntries(request.headers.entries()),
        body: await request.text(),
        at: performance.now(),
      }
      requests.push(received)
      open++
      peak = Math.max(peak, open)
      try {
        return await answer(received, requests.length - 1)
      } finally {
        open--
      }
    },
  })
  return { url: `http://127.0.0.1:${server.port}`, requests, open: () => open, peakOpen: () => peak, stop: () => void server.stop(true) }
}

/** Verifies a request with the official `standardwebhooks` library as if it arrived at `nowMs`; returns the payload or throws. */
export function verifyAt(secret: string, req: Received, nowMs: number): unknown {
  setSystemTime(new Date(nowMs))
  try {
    return new Webhook(secret).verify(req.body, req.headers)
  } finally {
    setSystemTime()
  }
}

/** Resolves when `check` holds, polling every 5 ms; throws after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(5)
  }
}
