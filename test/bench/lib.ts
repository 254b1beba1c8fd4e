/** Shared pieces of the benchmarks: a closed-loop load generator, percentiles, and a printed table. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `askad-bench-${name}-`))
  // A run writes hundreds of MB of databases: deleted when the benchmark process exits, also on Ctrl-C.
  const remove = () => rmSync(dir, { recursive: true, force: true })
  process.on('exit', remove)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))
  return dir
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  )
}

export interface LoadResult {
  requests: number
  errors: number
  reqPerSec: number
  p50: number
  p99: number
}

/**
 * Closed-loop load: `concurrency` workers each send the next request as soon as the previous answers,
 * for `durationMs`. Bounded by time and by `maxRequests`; only ever targets the given (local) URL.
 */
export async function load(
  makeRequest: (i: number) => Request,
  options: { concurrency: number; durationMs: number; maxRequests?: number; expectStatus?: number },
): Promise<LoadResult> {
  const latencies: number[] = []
  let errors = 0
  let issued = 0
  const max = options.maxRequests ?? Number.MAX_SAFE_INTEGER
  const started = performance.now()
  const deadline = started + options.durationMs
  const worker = async () => {
    while (performance.now() < deadline && issued < max) {
      const i = issued++
      const t0 = performance.now()
      try {
        const res = await fetch(makeRequest(i))
        await res.arrayBuffer()
        if (res.status !== (options.expectStatus ?? 200)) errors++
      } catch {
        errors++
      }
      latencies.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  const elapsed = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return { requests: latencies.length, errors, reqPerSec: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) }
}

/** Prints rows as an aligned Markdown table (paste-able into notes). */
export function printTable(title: string, rows: Record<string, string | number>[]): void {
  const columns = Object.keys(rows[0] ?? {})
  const cell = (v: string | number | undefined) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : (v ?? ''))
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)))
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`
  console.log(`\n${title}\n`)
  console.log(line(columns))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const r of rows) console.log(line(columns.map((c) => cell(r[c]))))
}

/** Resident memory of a process in MB, from /proc (Linux). */
export function rssMb(pid: number): number {
  const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
  return kb / 1024
}

/** True when `wrk` is on PATH; otherwise prints how to get it (benchmarks install nothing themselves). */
export function haveWrk(): boolean {
  if (Bun.which('wrk')) return true
  console.error('wrk is not installed; on Debian/Ubuntu: apt-get install -y wrk')
  return false
}

export interface WrkResult {
  requests: number
  /** Answers that were not 2xx/3xx, plus socket errors. */
  errors: number
  reqPerSec: number
  p50: number
  p99: number
}

/**
 * wrk's Lua script posting a new lead per request to `path` (each with its own email, unique across
 * runs through `tag`), keys taken round-robin from `keys` (none: no Authorization header). Written to `dir`.
 */
export function wrkLeadScript(dir: string, options: { tag: string; keys?: string[]; path?: string }): string {
  const file = join(dir, `wrk-${options.tag}-${Date.now()}.lua`)
  const keys = options.keys ?? []
  writeFileSync(
    file,
    `local keys = { ${keys.map((k) => `"${k}"`).join(', ')} }
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  if #keys > 0 then wrk.headers["Authorization"] = "Bearer " .. keys[(n % #keys) + 1] end
  local body = string.format('{"email":"${options.tag}-%d-%d@bench.example","first_name":"Jane","last_name":"Smith","phone":"+1234567890","source":"hubspot","metadata":{"deal_value":5000}}', n, math.random(1, 1e9))
  return wrk.format(nil, "${options.path ?? '/api/v1/leads/inbound'}", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %.3f %.3f\\n", summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
`,
  )
  return file
}

/** Runs `wrk -t1` (one thread: the client stays cheap on 2 cores) with a script for `seconds` against a local URL. */
export async function runWrk(url: string, script: string, options: { connections: number; seconds: number }): Promise<WrkResult> {
  const proc = Bun.spawn(['wrk', '-t1', `-c${options.connections}`, `-d${options.seconds}s`, '-s', script, url], { stdout: 'pipe', stderr: 'pipe' })
  const out = await new Response(proc.stdout).text()
  await proc.exited
  const m = out.match(/RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)/)
  if (!m) throw new Error(`wrk printed no result:\n${out}`)
  const requests = Number(m[1])
  return { requests, errors: Number(m[2]), reqPerSec: requests / (Number(m[3]) / 1e6), p50: Number(m[4]), p99: Number(m[5]) }
}
