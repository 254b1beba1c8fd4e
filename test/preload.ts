/**
 * Preloaded by `bun test` (bunfig.toml) before any test file:
 * - the in-process suite runs Elysia in production mode, as the executable does (src/production.ts);
 *   `bun test` itself sets NODE_ENV=test, so this overrides it rather than filling a gap;
 * - tests start real servers, receivers, processes and Chromium: on a loaded 2-core machine that
 *   takes more than bun's default 5 s (bunfig.toml's `timeout` is not read by bun 1.4);
 * - the PostgreSQL server tests start (test/pg.ts) is stopped after the last test.
 */
import { afterAll, setDefaultTimeout } from 'bun:test'
import { stopTestPg } from './pg'

process.env.NODE_ENV = 'production'
setDefaultTimeout(30_000)
afterAll(stopTestPg)
