/** /healthz on PostgreSQL: can this node reach the database, and may it write there? */
import { storageProblem, type StorageProblem } from '../storage'
import type { PgDb } from './client'

/** A probe slower than this means the node cannot serve: the balancer should take it out. */
const PROBE_TIMEOUT_MS = 2_000

const READ_ONLY: StorageProblem = {
  cause: 'read-only',
  detail: 'The database is a read-only replica (or in recovery); point ASKAD_DB at the primary.',
  retryAfter: 60,
}

/** One round trip: the server answers, and it is a primary (a replica or a server in recovery takes no writes). */
export async function probePg(pg: PgDb): Promise<{ writable: true } | { writable: false; problem: StorageProblem }> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('database probe timed out'), { code: 'ERR_POSTGRES_CONNECTION_TIMEOUT' })), PROBE_TIMEOUT_MS)
  })
  try {
    const [row] = await Promise.race([pg.$client`SELECT pg_is_in_recovery() AS replica, current_setting('transaction_read_only') AS read_only`, timeout])
    return row.replica || row.read_only === 'on' ? { writable: false, problem: READ_ONLY } : { writable: true }
  } catch (error) {
    const problem = storageProblem(error)
    if (!problem) throw error
    return { writable: false, problem }
  } finally {
    clearTimeout(timer)
  }
}
