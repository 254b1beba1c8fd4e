/**
 * Footprint: executable size, time from start to the first 200, resident memory idle and after an
 * ingest burst — each next to the bare Bun.serve baseline (baseline-server.ts) in the same run.
 * Usage: bun test/bench/footprint.ts [starts] [ingest-requests]
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { generateKey } from '../../src/lib/keys'
import { ensureExecutable } from '../exe'
import { load, median, printTable, rssMb, tempDir } from './lib'

const STARTS = Number(process.argv[2] ?? 5)
const INGEST = Number(process.argv[3] ?? 5000)
const exe = ensureExecutable()
const bunBinary = Bun.which('bun')!
const BASELINE = join(import.meta.dir, 'baseline-server.ts')

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() })
  const port = s.port!
  s.stop(true)
  return port
}

/** Spawns a server in a fresh folder and polls until `path` answers 200; returns the time that took. */
async function start(cmd: string[], env: Record<string, string>, path: string) {
  const port = freePort()
  const t0 = performance.now()
  const proc = Bun.spawn(cmd, {
    cwd: tempDir('footprint'),
    env: { PATH: process.env.PATH!, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}${path}`)).status === 200) break
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > 20_000) throw new Error(`${cmd.join(' ')} did not answer within 20 s`)
    await Bun.sleep(2)
  }
  return { ms: performance.now() - t0, proc, url: `http://127.0.0.1:${port}` }
}

const askadCmd = [exe, 'serve']
const baselineCmd = [bunBinary, BASELINE, 'baseline.db']
const starts = { askad: [] as number[], baseline: [] as number[] }
for (let i = 0; i < STARTS; i++) {
  const a = await start(askadCmd, { ASKAD_DB: 'askad.db', LOG_LEVEL: 'warn' }, '/healthz')
  starts.askad.push(a.ms)
  a.proc.kill('SIGKILL')
  const b = await start(baselineCmd, {}, '/healthz')
  starts.baseline.push(b.ms)
  b.proc.kill('SIGKILL')
}

const key = generateKey('secret')
const askad = await start(askadCmd, { ASKAD_DB: 'askad.db', ASKAD_BOOTSTRAP_KEY: key, ASKAD_RATE_LIMIT: '1000000000/1s', LOG_LEVEL: 'warn' }, '/healthz')
const baseline = await start(baselineCmd, {}, '/healthz')
await Bun.sleep(1000)
const idle = { askad: rssMb(askad.proc.pid), baseline: rssMb(baseline.proc.pid) }

let n = 0
const ingest = (url: string, auth: boolean) => () =>
  new Request(`${url}/api/v1/leads/inbound`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ email: `f${n++}@example.com`, first_name: 'Jane', source: 'hubspot', metadata: { deal_value: 5000 } }),
  })
await load(ingest(askad.url, true), { concurrency: 16, durationMs: 60_000, maxRequests: INGEST, expectStatus: 201 })
await load(ingest(baseline.url, false), { concurrency: 16, durationMs: 60_000, maxRequests: INGEST, expectStatus: 201 })
await Bun.sleep(500)
const after = { askad: rssMb(askad.proc.pid), baseline: rssMb(baseline.proc.pid) }
askad.proc.kill('SIGKILL')
baseline.proc.kill('SIGKILL')

const size = { askad: statSync(exe).size / 1024 / 1024, baseline: statSync(bunBinary).size / 1024 / 1024 }
const row = (what: string, a: number, b: number, unit: string) => ({
  measure: what,
  askad: `${a.toFixed(1)} ${unit}`,
  baseline: `${b.toFixed(1)} ${unit}`,
  ratio: (a / b).toFixed(2),
})
printTable('footprint (baseline: the bun runtime binary / a bare Bun.serve + bun:sqlite script)', [
  row('executable size', size.askad, size.baseline, 'MB'),
  row(`start → first 200 (median of ${STARTS})`, median(starts.askad), median(starts.baseline), 'ms'),
  row('RSS idle', idle.askad, idle.baseline, 'MB'),
  row(`RSS after ${INGEST} ingest requests`, after.askad, after.baseline, 'MB'),
])
process.exit(0)
