/**
 * A dispatcher for tests: the production stages (claim → prepare → send → record) under the
 * production loop, on the harness's injected clock, plus `runDue()` to send everything due now
 * and wait until idle. It only watches each delivery's stages finish; it changes nothing they do.
 */
import type { AppDeps } from '../src/deps'
import { runDispatchLoop, type Dispatcher, type DispatchStages } from '../src/workers/dispatch-loop'
import { createDispatchStages, type DispatcherOptions } from '../src/workers/dispatcher'

export interface DispatcherDriver extends Dispatcher {
  /** Sends everything due at the clock's current time, retries included once due, and resolves when idle; returns the attempts recorded meanwhile. */
  runDue(): Promise<number>
}

/** Starts a dispatcher like startDispatcher(deps, options) whose progress tests can wait for. */
export function startDispatcherDriver(deps: AppDeps, options: DispatcherOptions = {}): DispatcherDriver {
  const stages = createDispatchStages(deps, options)
  const delivering = new Set<Promise<unknown>>()
  const claiming = new Set<Promise<unknown>>()
  let recorded = 0
  const watched: DispatchStages = {
    ...stages,
    claim(limit) {
      const run = stages.claim(limit)
      const watch = run.then(
        () => {},
        () => {},
      )
      claiming.add(watch)
      void watch.finally(() => claiming.delete(watch))
      return run
    },
    deliver(job, signal) {
      const run = stages.deliver(job, signal)
      // A failed delivery is logged by the loop; here it only ends the wait.
      const watch = run
        .then(
          (result) => void (result === 'recorded' && recorded++),
          () => {},
        )
        .finally(() => delivering.delete(watch))
      delivering.add(watch)
      return run
    },
  }
  const dispatcher = runDispatchLoop(watched, deps)

  return {
    ...dispatcher,
    async runDue() {
      const before = recorded
      for (;;) {
        dispatcher.wake()
        // The loop pumps on a microtask; a turn of the event loop lets it claim and lets ended attempts free their slots.
        await new Promise((resolve) => setImmediate(resolve))
        // A claim that waits for the database (PostgreSQL) is waited for; a turn then lets the loop start what it claimed.
        while (claiming.size > 0) {
          await Promise.allSettled([...claiming])
          await new Promise((resolve) => setImmediate(resolve))
        }
        if (dispatcher.state().in_flight === 0) break
        await Promise.allSettled([...delivering])
      }
      return recorded - before
    },
  }
}
