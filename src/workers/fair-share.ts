/**
 * Fair shares of the dispatcher's in-flight slots. Oldest-first claiming let one tenant whose
 * endpoints hang fill every slot, so every other tenant waited for its timeouts. Instead the busy
 * workspaces split the slots equally, and the busy endpoints of a workspace its share, leaving
 * part of each pool free while someone else could have work next: a hanging tenant holds at most
 * its share, and a healthy one finds a slot at once. When everyone is busy (one tenant with a
 * backlog, say) nothing is held back, so throughput stays what it was.
 */

/** Part of a pool the busy claimants leave free while others could turn up. */
const RESERVED_FRACTION = 0.2

/** Slots one of `busy` claimants (itself included) may hold out of `pool`, `idle` others being able to claim next. */
export function fairShare(pool: number, busy: number, idle: number): number {
  return Math.max(1, Math.floor((pool * (idle > 0 ? 1 - RESERVED_FRACTION : 1)) / busy))
}

/** Who could claim at all: the workspaces with enabled endpoints, and how many each has. */
export interface Claimants {
  workspaces: number
  endpointsOf(workspaceId: string): number
}

/** An enabled endpoint as a claim sees it: its workspace, its cap (max_in_flight) and its places free under the cap across processes. */
export interface ClaimEndpoint {
  id: string
  workspaceId: string
  cap: number
  free: number
}

/** A claim's plan over the enabled endpoints (InFlightShares.plan). */
export interface ClaimPlan {
  /** What the endpoint may start now: its free places, within its fair share of this process's slots. */
  room(endpointId: string): number
  /** The endpoints that had room when the plan was made. */
  readonly open: string[]
  /** Counts a delivery of the endpoint as started: a place less, a slot of the shares more; returns its workspace. */
  take(endpointId: string): string
  /** True once none of the open endpoints has room left. */
  full(): boolean
}

/** Attempts in flight in this process per workspace and per endpoint, and what each may still start. */
export class InFlightShares {
  private readonly perWorkspace = new Map<string, number>()
  private readonly perEndpoint = new Map<string, number>()
  /** Per workspace: how many of its endpoints have attempts in flight. */
  private readonly busyEndpoints = new Map<string, number>()

  constructor(private readonly pool: number) {}

  /** Attempts the endpoint may start now within its workspace's share and its own, and its cap of `endpointCap` in flight. */
  room(workspaceId: string, endpointId: string, claimants: Claimants, endpointCap: number): number {
    const heldByWorkspace = this.perWorkspace.get(workspaceId) ?? 0
    const heldByEndpoint = this.perEndpoint.get(endpointId) ?? 0
    const busyWorkspaces = this.perWorkspace.size + (heldByWorkspace ? 0 : 1)
    const workspaceShare = fairShare(this.pool, busyWorkspaces, claimants.workspaces - busyWorkspaces)
    const busyEndpoints = (this.busyEndpoints.get(workspaceId) ?? 0) + (heldByEndpoint ? 0 : 1)
    const endpointShare = fairShare(workspaceShare, busyEndpoints, claimants.endpointsOf(workspaceId) - busyEndpoints)
    return Math.min(workspaceShare - heldByWorkspace, Math.min(endpointCap, endpointShare) - heldByEndpoint)
  }

  /**
   * Plans a claim over the enabled endpoints (an endpoint may come more than once, as in PostgreSQL's
   * plan with a row per due delivery): the SQLite and PostgreSQL claimers pick deliveries through it.
   */
  plan(endpoints: ClaimEndpoint[]): ClaimPlan {
    const byId = new Map(endpoints.map((e) => [e.id, { ...e }]))
    const endpointsPerWorkspace = new Map<string, number>()
    for (const { workspaceId } of byId.values()) endpointsPerWorkspace.set(workspaceId, (endpointsPerWorkspace.get(workspaceId) ?? 0) + 1)
    const claimants = { workspaces: endpointsPerWorkspace.size, endpointsOf: (id: string) => endpointsPerWorkspace.get(id) ?? 0 }
    const room = (endpointId: string) => {
      const e = byId.get(endpointId)!
      return Math.min(e.free, this.room(e.workspaceId, endpointId, claimants, e.cap))
    }
    const open = [...byId.keys()].filter((id) => room(id) > 0)
    return {
      room,
      open,
      take: (endpointId) => {
        const e = byId.get(endpointId)!
        e.free--
        this.add(e.workspaceId, endpointId)
        return e.workspaceId
      },
      full: () => open.every((id) => room(id) <= 0),
    }
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
