/** Deals routes (not built yet). */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import type { AuthPlugin } from '../../plugins/auth'

export const dealsModule = (deps: AppDeps, auth: AuthPlugin) => new Elysia({ prefix: '/deals', tags: ['Deals'] }).use(auth)
