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
  /** Tracks a storage call of the loop (a claim, or its look at the next wake-up) until it settles. */
  const track = <T>(run: Promise<T>): Promise<T> => {
    const watch = run.then(
      () => {},
      () => {},
    )
    claiming.add(watch)
    void watch.finally(() => claiming.delete(watch))
    return run
  }
  const watched: DispatchStages = {
    ...stages,
    claim: (limit) => track(stages.claim(limit)),
    // On PostgreSQL this waits for the database too; a wake-up meanwhile only queues the next claim behind it.
    nextWake: (now) => track(stages.nextWake(now)),
    // Freeing dead processes' leases at start is waited for like a claim.
    open: (wake) => track(stages.open(wake)),
    deliver(job, signal, sent) {
      const run = stages.deliver(job, signal, sent)
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
        // Storage calls that wait for the database (PostgreSQL) are waited for; a turn then lets the loop start what it claimed.
        while (claiming.size > 0) {
          await Promise.allSettled([...claiming])
          await new Promise((resolve) => setImmediate(resolve))
        }
        // A slot is given back before its attempt's record commits: done once nothing is sent or being written.
        if (dispatcher.state().in_flight === 0 && delivering.size === 0) break
        await Promise.allSettled([...delivering])
      }
      return recorded - before
    },
  }
}
