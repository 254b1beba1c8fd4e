/** Idempotency-Key support for POST requests (not built yet). */
import { Elysia } from 'elysia'
import type { AppDeps } from '../deps'

export const idempotency = (_deps: AppDeps) => new Elysia({ name: 'idempotency' })
