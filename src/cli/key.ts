/** `askad key create|list|revoke|generate`. */
import type { ServiceDeps } from '../deps'
import { parseTimestamp } from '../lib/clock'
import { generateKey } from '../lib/keys'
import { createKey, listKeys, revokeKey, serializeKey } from '../modules/api-keys/service'
import { findWorkspace } from '../modules/workspaces/service'
import { CliError, table, type Output } from './output'

const csv = (text?: string) =>
  text === undefined
    ? undefined
    : text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)

async function workspaceOf(deps: ServiceDeps, name: string | undefined) {
  if (!name) throw new CliError('--workspace is required (a slug or id; see askad workspace list)', 2)
  const ws = await findWorkspace(deps, name)
  if (!ws) throw new CliError(`No workspace '${name}'.`)
  return ws
}

export interface KeyCreateFlags {
  workspace?: string
  name?: string
  scopes?: string
  publishable?: boolean
  origins?: string
  'rate-limit'?: string
  'expires-at'?: string
}

/** `askad key create`: prints the new key in full, once. */
export async function keyCreate(deps: ServiceDeps, out: Output, flags: KeyCreateFlags): Promise<void> {
  const ws = await workspaceOf(deps, flags.workspace)
  const rateLimit = flags['rate-limit'] === undefined ? null : Number(flags['rate-limit'])
  const { record, key } = await createKey(deps, {
    workspaceId: ws.id,
    kind: flags.publishable ? 'publishable' : 'secret',
    name: flags.name,
    scopes: csv(flags.scopes),
    allowedOrigins: csv(flags.origins),
    rateLimit,
    expiresAt: flags['expires-at'] === undefined ? null : parseTimestamp(flags['expires-at'], '--expires-at'),
  })
  const shown = { ...serializeKey(record), key, workspace: ws.slug }
  out.result(shown, () =>
    [
      `Created ${record.kind} key '${record.name}' (${record.id}) in workspace '${ws.slug}':`,
      '',
      `  ${key}`,
      '',
      'It is shown only this once: store it now.',
    ].join('\n'),
  )
}

/** `askad key list`: a workspace's keys, by prefix. */
export async function keyList(deps: ServiceDeps, out: Output, flags: { workspace?: string }): Promise<void> {
  const ws = await workspaceOf(deps, flags.workspace)
  const keys = (await listKeys(deps, ws.id)).map(serializeKey)
  out.result(keys, () => table(keys, ['id', 'prefix', 'kind', 'name', 'scopes', 'created_at', 'last_used_at', 'revoked_at']))
}

/** `askad key revoke KEY_ID`, in any workspace. */
export async function keyRevoke(deps: ServiceDeps, out: Output, keyId: string): Promise<void> {
  const key = serializeKey(await revokeKey(deps, null, keyId))
  out.result(key, () => `Revoked key ${key.id} (${key.prefix}).`)
}

/** `askad key generate`: a valid key that is not stored anywhere. */
export function keyGenerate(out: Output, flags: { publishable?: boolean }): void {
  const key = generateKey(flags.publishable ? 'publishable' : 'secret')
  out.result({ key }, () => key)
}
