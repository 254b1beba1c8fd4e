/**
 * The dispatcher's storage seam: everything the dispatch loop asks of the database (claim due
 * deliveries, record attempts, free leases, tell other nodes about new work), behind one interface
 * with two implementations chosen by `deps.pg`: SQLite (claim.sqlite.ts, recorder.sqlite.ts: one
 * writer, prepared statements) and PostgreSQL (claim.pg.ts, recorder.pg.ts, notify.pg.ts: several
 * nodes on one database, with the row locks, advisory locks and notifications that takes).
 */
import { hostname } from 'node:os'
import { sqliteEngine } from '../db/engine'
import type { AppDeps } from '../deps'
import { createClaimer } from './claim.sqlite'
import { createPgClaimer } from './claim.pg'
import { createNotifier } from './notify.pg'
import { createRecorder } from './recorder.sqlite'
import { createPgRecorder } from './recorder.pg'
import type { AttemptOutcome } from './send-attempt'
import type { AttemptTrigger } from '../db/schema'

/** A claimed delivery with what its attempt needs, as stored. */
export interface ClaimedJob {
  id: string
  workspace_id: string
  endpoint_id: string
  event_id: string
  /** Attempts recorded so far and whether this one was queued by hand (1), as claimed: the lease keeps them so until recorded. */
  attempt_count: number
  manual: number
  payload: string
  url: string
  secret: string
  previous_secret: string | null
  previous_secret_expires_at: number | null
  /** JSON object of the endpoint's static headers. */
  headers: string
  /** 1 when the endpoint has not answered 2xx lately (never, or failing since): its attempts first test the connection. */
  unproven: number
}

/** How many deliveries a claim may take: a number, or a function read when the claim runs. */
export type ClaimLimit = number | (() => number)

/** When the loop should look again. */
export interface NextWake {
  /** The earliest future retry or lease expiry; null when nothing is pending. */
  next: number | null
  /** Something is due that could not be claimed (its endpoint is at its cap through another process's leases). */
  blocked: boolean
}

/** How a claimer leases. */
export interface ClaimLimits {
  /** Identifies this process in `lease_owner`: host:pid:tag. */
  owner: string
  /** A claim outlives the longest attempt; a crashed process's claims are free again after it. */
  leaseMs: number
  /** Attempts in flight in this process: the pool the fair shares divide. (Each endpoint's own cap is its `max_in_flight`.) */
  maxInFlight: number
}

/** An attempt that ended, as the send stage left it. */
export interface FinishedAttempt {
  deliveryId: string
  endpointId: string
  /** The delivery's attempt count and manual flag as claimed (SQLite's recorder goes by them; PostgreSQL's reads them again under its row locks). */
  claimed: Pick<ClaimedJob, 'attempt_count' | 'manual'>
  startedAt: number
  outcome: AttemptOutcome
}

/** What the dispatch loop asks of storage. */
export interface DispatchStore {
  /**
   * Claims up to `limit` due deliveries, oldest due first within each endpoint's fair share of this
   * process's slots, keeping every endpoint under its in-flight cap across processes; resolves with
   * what their attempts need, read in the same transaction. A function `limit` is read when the claim
   * runs: SQLite's claim waits for a shared commit, and slots given back meanwhile count.
   */
  claim(limit: ClaimLimit): Promise<ClaimedJob[]>
  /** Gives back the job's slot in this process's fair shares once its attempt is over. */
  finished(job: ClaimedJob): void
  /** Frees a claim of this process without recording an attempt (an attempt cut off by shutdown). */
  release(job: ClaimedJob): Promise<void>
  /** Frees the claims of processes on this host that no longer run (kill -9, crash), so their work resumes at once. */
  releaseDeadLeases(): Promise<void>
  /** The earliest future retry or lease expiry, and whether something due is waiting for a slot. */
  nextWake(now: number): Promise<NextWake>
  /** Stores the attempt (batched with others that finish together); resolves once written (failures are logged, not thrown). */
  record(finished: FinishedAttempt): Promise<void>
  /** Calls `wake` whenever another process queued deliveries (PostgreSQL: LISTEN); resolves once listening, or once a first try failed. */
  listen(wake: () => void): Promise<void>
  /** Tells the other processes that deliveries were queued (PostgreSQL: a coalesced NOTIFY after the commit). */
  announce(): void
  /** Stops listening and frees whatever this process still holds; run once when the dispatcher stops. */
  close(): Promise<void>
}

/** The default lease owner: this host and process, and a tag telling incarnations of one pid apart. */
export function defaultOwner(): string {
  return `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`
}

/** Of the lease owners `others`, those that name a process of this host (the one `owner` runs on) that has exited. */
export function deadLocalOwners(others: string[], owner: string): string[] {
  const [host] = owner.split(':')
  return others.filter((other) => other !== owner && isDeadLocalOwner(other, host!))
}

/** True when `owner` (host:pid:tag) names a process of this host that has exited. */
function isDeadLocalOwner(owner: string, host: string): boolean {
  const [ownerHost, pidText] = owner.split(':')
  const pid = Number(pidText)
  if (ownerHost !== host || !Number.isInteger(pid) || pid <= 0) return false
  // Same pid, other tag: an earlier incarnation of this process id (e.g. pid 1 in a restarted container).
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/** The dispatcher's storage on PostgreSQL when `deps.pg` is set, else on SQLite; `random` ([0, 1)) drives the retry jitter. */
export function dispatchStore(deps: Pick<AppDeps, 'db' | 'pg' | 'engine' | 'clock' | 'logger'>, limits: ClaimLimits, random: () => number): DispatchStore {
  return deps.pg ? pgDispatchStore({ ...deps, pg: deps.pg }, limits, random) : sqliteDispatchStore(deps, limits, random)
}

/**
 * SQLite: one writer, so no other process needs telling; claims and records join the group commit of
 * the connection's engine, sharing transactions with ingest and each other.
 */
function sqliteDispatchStore(deps: Pick<AppDeps, 'db' | 'engine' | 'clock' | 'logger'>, limits: ClaimLimits, random: () => number): DispatchStore {
  const engine = deps.engine ?? sqliteEngine(deps.db)
  const claimer = createClaimer(deps.db, engine, deps, limits)
  const recorder = createRecorder(deps.db, engine, deps, random)
  return {
    claim: claimer.claim,
    async record(finished) {
      // Until written, its lease still holds a place under its endpoint's cap: the claimer knows the attempt is over.
      claimer.settling.add(finished.deliveryId)
      try {
        await recorder.record(finished)
      } finally {
        claimer.settling.delete(finished.deliveryId)
      }
    },
    finished: claimer.finished,
    release: async (job) => claimer.release(job),
    releaseDeadLeases: async () => claimer.releaseDeadLeases(),
    nextWake: async (now) => claimer.nextWake(now),
    listen: async () => {},
    announce() {},
    close: async () => {},
  }
}

/** PostgreSQL: several nodes share the table; leases are taken and written only under this node's owner id. */
function pgDispatchStore(
  deps: Pick<AppDeps, 'clock' | 'logger'> & { pg: NonNullable<AppDeps['pg']> },
  limits: ClaimLimits,
  random: () => number,
): DispatchStore {
  const claimer = createPgClaimer(deps.pg, deps, limits)
  const recorder = createPgRecorder(deps.pg, deps, limits.owner, random)
  const notifier = createNotifier(deps.pg, deps.logger, limits.owner)
  return {
    ...claimer,
    record: recorder.record,
    listen: notifier.listen,
    announce: notifier.announce,
    async close() {
      await notifier.close()
      await claimer.releaseOwn()
    },
  }
}

/** A row of webhook_attempts, as both recorders write it. */
export type AttemptRow = {
  id: string
  delivery_id: string
  attempt: number
  trigger: AttemptTrigger
  started_at: number
  duration_ms: number
  status_code: number | null
  error_class: string | null
  error_message: string | null
  response_body: string | null
  next_attempt_at: number | null
}
