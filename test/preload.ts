/**
 * Preloaded by `bun test` (bunfig.toml) before any test file:
 * - the in-process suite runs Elysia in production mode, as the executable does (src/production.ts);
 *   `bun test` itself sets NODE_ENV=test, so this overrides it rather than filling a gap;
 * - the per-test time limit is NOT set here: bun 1.4 would apply it to the first file only (test/timeout.ts);
 * - the PostgreSQL server tests start (test/pg.ts) is stopped after the last test.
 */
import { afterAll } from 'bun:test'
import { stopTestPg } from './pg'

process.env.NODE_ENV = 'production'
afterAll(stopTestPg)
