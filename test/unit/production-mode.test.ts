/** The in-process suite runs Elysia in production mode, like the executable (bunfig.toml preloads test/preload.ts). */
import { expect, test } from 'bun:test'
import { useTestTimeout } from '../timeout'

useTestTimeout()

test('NODE_ENV is production, where Elysia reads it (Bun.env) when it loads', () => {
  expect(Bun.env.NODE_ENV).toBe('production')
})
