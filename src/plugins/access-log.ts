/** Gives every response an X-Request-Id and writes one JSON log line per request. */
import { Elysia } from 'elysia'
import { ApiError } from '../errors'
import { redactKeys } from '../lib/keys'
import type { Logger } from '../lib/logger'
import { requestContext } from './request-context'

/** Sets X-Request-Id on every response and logs each request once it has been answered. */
export const accessLog = (logger: Logger) =>
  new Elysia({ name: 'access-log' })
    .onRequest(({ request, set }) => {
      set.headers['x-request-id'] = requestContext(request).id
      // Bun hands over a relative URL when the Host header is missing or not a host; nothing
      // downstream could tell which site was meant, so such a request stops here.
      if (!URL.canParse(request.url)) throw new ApiError('bad_request', 'The Host header is missing or is not a valid host name.')
    })
    .onAfterResponse({ as: 'global' }, ({ request, route, path, set }) => {
      const state = requestContext(request)
      logger.info('request', {
        request_id: state.id,
        method: request.method,
        route: route || redactKeys(path),
        status: state.status ?? (typeof set.status === 'number' ? set.status : 200),
        duration_ms: Math.round((performance.now() - state.startedAt) * 100) / 100,
        key_prefix: state.keyPrefix ?? null,
      })
    })
