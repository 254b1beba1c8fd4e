/** Gives every response an X-Request-Id and writes one JSON log line per request. */
import { Elysia } from 'elysia'
import { redactKeys } from '../lib/keys'
import type { Logger } from '../lib/logger'
import { requestState } from './request-context'

/** Sets X-Request-Id on every response and logs each request once it has been answered. */
export const accessLog = (logger: Logger) =>
  new Elysia({ name: 'access-log' })
    .onRequest(({ request, set }) => {
      set.headers['x-request-id'] = requestState(request).id
    })
    .onAfterResponse({ as: 'global' }, ({ request, route, set }) => {
      const state = requestState(request)
      logger.info('request', {
        request_id: state.id,
        method: request.method,
        route: route || redactKeys(new URL(request.url).pathname),
        status: state.errorStatus ?? (typeof set.status === 'number' ? set.status : 200),
        duration_ms: Math.round((performance.now() - state.startedAt) * 100) / 100,
        key_prefix: state.keyPrefix ?? null,
      })
    })
