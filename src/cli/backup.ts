/** `askad backup FILE`: a consistent hot copy, safe while the server writes. */
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { restrictFile, type Db } from '../db/client'
import { CliError, type Output } from './output'

/** What `askad backup` answers on PostgreSQL, where the server's own tools make consistent copies. */
export function pgBackupRefusal(url: string): CliError {
  return new CliError(
    `askad backup copies SQLite files; ${url} is a PostgreSQL database: use pg_dump (e.g. pg_dump --format=custom --file=askad.dump '${url}') or your PostgreSQL backups.`,
  )
}

/** VACUUM INTO reads one snapshot of the WAL database and writes a compact, self-contained copy, readable by its owner only. */
export function backup(db: Db, out: Output, file: string): void {
  const target = resolve(file)
  if (existsSync(target)) throw new CliError(`${target} already exists; choose a new file name.`)
  mkdirSync(dirname(target), { recursive: true })
  const started = performance.now()
  // VACUUM INTO fills an empty file it is given, keeping its owner-only mode.
  restrictFile(target)
  db.$client.run('VACUUM INTO ?', [target])
  const result = { file: target, bytes: Bun.file(target).size, duration_ms: Math.round(performance.now() - started) }
  out.result(result, () => `Backed up to ${target} (${result.bytes} bytes, ${result.duration_ms} ms).`)
}
