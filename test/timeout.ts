/**
 * The suite's per-test time limit. Tests start real servers, receivers, processes and Chromium: on a
 * loaded 2-core machine that takes more than bun's default 5 s. Every test file calls `useTestTimeout()`
 * at its top (test/unit/test-timeouts.test.ts checks), because bun 1.4 applies a preload's
 * setDefaultTimeout to the first file of a run only (oven-sh/bun#43787) and does not read bunfig's
 * `[test] timeout` (oven-sh/bun#7789); the README's plain `bun test` takes no `--timeout` flag.
 */
import { setDefaultTimeout } from 'bun:test'

export const TEST_TIMEOUT_MS = 30_000

/** Sets this file's default limit for tests and hooks. */
export function useTestTimeout(ms: number = TEST_TIMEOUT_MS): void {
  setDefaultTimeout(ms)
}
