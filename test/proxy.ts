/**
 * A small round-robin HTTP load balancer on 127.0.0.1 for the cluster test and benchmark, doing
 * what nginx or HAProxy do in deploy/: each request goes to the next node; a node that refuses the
 * connection (down) is skipped and the request goes to the next one (safe: the node never saw it);
 * a node that dies mid-request answers 502 (not retried: it may have acted on the request).
 */
export interface Balancer {
  url: string
  /** Requests answered per upstream, and 502s. */
  stats(): { perUpstream: number[]; badGateway: number }
  /** Points upstream `index` at a new address (a node restarted on another port). */
  replace(index: number, url: string): void
  stop(): void
}

/** The error codes of a connection the node refused: it is down and never saw the request. */
const REFUSED = new Set(['ECONNREFUSED', 'ConnectionRefused'])

/** Starts the balancer in front of `upstreams` (base URLs such as http://127.0.0.1:4001). */
export function startProxy(initial: string[]): Balancer {
  const upstreams = [...initial]
  let next = 0
  const perUpstream = upstreams.map(() => 0)
  let badGateway = 0
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 60,
    async fetch(request) {
      const url = new URL(request.url)
      const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer()
      const headers = new Headers(request.headers)
      headers.set('x-forwarded-for', '127.0.0.1')
      for (let tried = 0; tried < upstreams.length; tried++) {
        const index = next++ % upstreams.length
        try {
          const response = await fetch(upstreams[index] + url.pathname + url.search, { method: request.method, headers, body, redirect: 'manual' })
          perUpstream[index]!++
          return new Response(await response.arrayBuffer(), { status: response.status, headers: response.headers })
        } catch (error) {
          // Bun names a refused connection ECONNREFUSED (older versions: ConnectionRefused).
          if (REFUSED.has((error as { code?: string }).code ?? '')) continue
          badGateway++
          return new Response('upstream failed mid-request', { status: 502 })
        }
      }
      badGateway++
      return new Response('no upstream', { status: 502 })
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}`,
    stats: () => ({ perUpstream: [...perUpstream], badGateway }),
    replace(index, url) {
      upstreams[index] = url
    },
    stop: () => void server.stop(true),
  }
}
