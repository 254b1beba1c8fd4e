/** The compiled executable for end-to-end tests: built once (atomically) when missing or older than the sources. */
import { Database } from 'bun:sqlite'
import { existsSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(import.meta.dir, '..')
export const EXECUTABLE = join(ROOT, 'dist', 'askad')

function newestSource(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** Path of an up-to-date dist/askad, building it (≈10 s) if needed. */
export function ensureExecutable(): string {
  const sources = Math.max(newestSource(join(ROOT, 'src')), newestSource(join(ROOT, 'drizzle')), statSync(join(ROOT, 'package.json')).mtimeMs)
  if (existsSync(EXECUTABLE) && statSync(EXECUTABLE).mtimeMs >= sources) return EXECUTABLE
  const temp = `${EXECUTABLE}.${process.pid}.tmp`
  // The same command as `bun run build`, writing to a temporary name that is renamed into place atomically.
  const script: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.build
  const build = Bun.spawnSync(script.replace('--outfile dist/askad', `--outfile ${temp}`).split(' '), { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`)
  renameSync(temp, EXECUTABLE)
  return EXECUTABLE
}

export interface RunningServer {
  url: string
  proc: ReturnType<typeof Bun.spawn>
  /** Everything the process printed on stdout so far. */
  output(): string
  /** Resolves when a line matching the pattern has been printed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  stop(signal?: NodeJS.Signals): Promise<number>
}

/** Starts `askad serve` (the executable, or any command line) on a random port and waits for its URL. */
export async function startServer(cmd: string[], options: { cwd: string; env?: Record<string, string> }): Promise<RunningServer> {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', HOST: '127.0.0.1', ...options.env },
    stdout: 'pipe',
    stderr: 'inherit',
  })
  let text = ''
  const waiters: (() => void)[] = []
  void (async () => {
    const decoder = new TextDecoder()
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      text += decoder.decode(chunk)
      waiters.splice(0).forEach((wake) => wake())
    }
  })()
  const waitFor = async (pattern: RegExp, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const match = text.match(pattern)
      if (match) return match
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output so far:\n${text}`)
      if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode}) before ${pattern}; output:\n${text}`)
      await Promise.race([new Promise<void>((r) => waiters.push(r)), Bun.sleep(50)])
    }
  }
  const url = (await waitFor(/listening on (http:\/\/\S+)/))[1]!.replace('localhost', '127.0.0.1')
  return {
    url,
    proc,
    output: () => text,
    waitFor,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null) proc.kill(signal)
      return await proc.exited
    },
  }
}

export interface StartOutcome {
  /** Exit code for a command that ended, null for a server still running. */
  exitCode: number | null
  stdout: string
  stderr: string
  proc: ReturnType<typeof Bun.spawn>
}

/**
 * Spawns `count` copies of a command at the same moment. A copy counts as started once it exits,
 * or, when `readyPattern` is given (a server), once its stdout matches it; servers are left running.
 */
export async function spawnTogether(
  cmd: string[],
  count: number,
  options: { cwd: string; env?: Record<string, string>; readyPattern?: RegExp; timeoutMs?: number },
): Promise<StartOutcome[]> {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...options.env }
  const procs = Array.from({ length: count }, () => Bun.spawn(cmd, { cwd: options.cwd, env, stdout: 'pipe', stderr: 'pipe' }))
  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  return await Promise.all(
    procs.map(async (proc) => {
      let stdout = ''
      let stderr = ''
      const decoder = new TextDecoder()
      const readErr = (async () => {
        for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) stderr += decoder.decode(chunk)
      })()
      const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
      const stdoutDecoder = new TextDecoder()
      for (;;) {
        if (options.readyPattern?.test(stdout)) break
        const left = deadline - Date.now()
        const next = await Promise.race([reader.read(), Bun.sleep(Math.max(0, left)).then(() => 'timeout' as const)])
        if (next === 'timeout') {
          proc.kill('SIGKILL')
          break
        }
        if (next.done) break
        stdout += stdoutDecoder.decode(next.value)
      }
      reader.releaseLock()
      if (options.readyPattern?.test(stdout)) return { exitCode: null, stdout, stderr, proc }
      const exitCode = await proc.exited
      await readErr
      return { exitCode, stdout, stderr, proc }
    }),
  )
}

/** `select count(*) as n …` on a database file, opened read-only beside the processes that use it. */
export function countRows(dbPath: string, sql: string): number {
  const db = new Database(dbPath, { readonly: true })
  try {
    return (db.query(sql).get() as { n: number }).n
  } finally {
    db.close()
  }
}
