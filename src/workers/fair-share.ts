/**
 * Fair shares of the dispatcher's in-flight slots. Oldest-first claiming let one tenant whose
 * endpoints hang fill every slot, so every other tenant waited for its timeouts. Instead each
 * workspace may hold an equal share of the slots, and each endpoint an equal share of its
 * workspace's, with one share always kept free for whoever has work next: a hanging tenant holds
 * at most its share, and a healthy one finds a slot at once.
 */

/** Slots one of `busy` claimants (itself included) may hold out of `pool`: an equal share, one share left free for a newcomer. */
export function fairShare(pool: number, busy: number): number {
  return Math.max(1, Math.floor(pool / (busy + 1)))
}

/** Attempts in flight in this process per workspace and per endpoint, and what each may still start. */
export class InFlightShares {
  private readonly perWorkspace = new Map<string, number>()
  private readonly perEndpoint = new Map<string, number>()
  /** Per workspace: how many of its endpoints have attempts in flight. */
  private readonly busyEndpoints = new Map<string, number>()

  constructor(
    private readonly pool: number,
    private readonly endpointCap: number,
  ) {}

  /** Attempts the endpoint may start now within its workspace's share and its own. */
  room(workspaceId: string, endpointId: string): number {
    const heldByWorkspace = this.perWorkspace.get(workspaceId) ?? 0
    const heldByEndpoint = this.perEndpoint.get(endpointId) ?? 0
    const workspaceShare = fairShare(this.pool, this.perWorkspace.size + (heldByWorkspace ? 0 : 1))
    const endpointShare = fairShare(workspaceShare, (this.busyEndpoints.get(workspaceId) ?? 0) + (heldByEndpoint ? 0 : 1))
    return Math.min(workspaceShare - heldByWorkspace, Math.min(this.endpointCap, endpointShare) - heldByEndpoint)
  }

  /** Counts an attempt that starts. */
  add(workspaceId: string, endpointId: string): void {
    const held = this.perEndpoint.get(endpointId) ?? 0
    if (held === 0) this.busyEndpoints.set(workspaceId, (this.busyEndpoints.get(workspaceId) ?? 0) + 1)
    this.perEndpoint.set(endpointId, held + 1)
    this.perWorkspace.set(workspaceId, (this.perWorkspace.get(workspaceId) ?? 0) + 1)
  }

  /** Forgets an attempt that ended (or was never started). */
  remove(workspaceId: string, endpointId: string): void {
    decrement(this.perWorkspace, workspaceId)
    if (decrement(this.perEndpoint, endpointId) === 0) decrement(this.busyEndpoints, workspaceId)
  }
}

/** Lowers a count, dropping the entry at zero (so a map's size counts the busy ones); returns the new count. */
function decrement(counts: Map<string, number>, key: string): number {
  const left = (counts.get(key) ?? 0) - 1
  if (left > 0) counts.set(key, left)
  else counts.delete(key)
  return left
}
