/** Prometheus metrics (not built yet). */
import { Elysia } from 'elysia'
import type { AppDeps } from '../deps'

export const metrics = (_deps: AppDeps) => new Elysia({ name: 'metrics' })
