/** Shared pieces of the benchmarks: a closed-loop load generator, percentiles, and a printed table. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `askad-bench-${name}-`))
  // A run writes hundreds of MB of databases: deleted when the benchmark process exits.
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
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
