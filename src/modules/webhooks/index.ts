/** Webhooks routes (not built yet). */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import type { AuthPlugin } from '../../plugins/auth'

export const webhooksModule = (deps: AppDeps, auth: AuthPlugin) => new Elysia({ prefix: '/webhooks', tags: ['Webhooks'] }).use(auth)
