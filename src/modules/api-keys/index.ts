/** ApiKeys routes (not built yet). */
import { Elysia } from 'elysia'
import type { AppDeps } from '../../deps'
import type { AuthPlugin } from '../../plugins/auth'

export const apiKeysModule = (deps: AppDeps, auth: AuthPlugin) => new Elysia({ prefix: '/api-keys', tags: ['ApiKeys'] }).use(auth)
