/** The webhook dispatcher (not built yet): turns pending deliveries into signed HTTP requests. */
import type { AppDeps } from '../deps'

export interface Dispatcher {
  /** Look for due deliveries now (called after a commit that queued some). */
  wake(): void
  /** Stop claiming work and wait for attempts in flight. */
  stop(): Promise<void>
}

export function startDispatcher(_deps: AppDeps): Dispatcher {
  return { wake() {}, async stop() {} }
}
