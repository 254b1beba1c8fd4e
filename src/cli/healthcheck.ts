/** `askad healthcheck`: asks the local server's /healthz, for container health checks without curl. */
import type { Config } from '../config'
import { CliError, type Output } from './output'

const HEALTHCHECK_TIMEOUT_MS = 3_000

/** Exits 0 when GET /healthz on the configured port answers 200. */
export async function healthcheck(config: Config, out: Output): Promise<void> {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.port}/healthz`
  let status: number
  try {
    status = (await fetch(url, { signal: AbortSignal.timeout(HEALTHCHECK_TIMEOUT_MS) })).status
  } catch (error) {
    throw new CliError(`${url} did not answer: ${(error as Error).message}`)
  }
  if (status !== 200) throw new CliError(`${url} answered ${status}`)
  out.result({ url, status }, () => `ok: ${url}`)
}
