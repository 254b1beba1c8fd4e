/** Campaigns routes (not built yet). */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import type { AuthPlugin } from '../../plugins/auth'

export const campaignsModule = (deps: AppDeps, auth: AuthPlugin) => new Elysia({ prefix: '/campaigns', tags: ['Campaigns'] }).use(auth)
