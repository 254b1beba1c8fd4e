/** Source secrets at rest, like webhook secrets: sealed with ASKAD_SECRET_KEY when set, checked at start, re-sealed by `askad secrets`. */
import { isSealed, type SecretBox } from '../../lib/secret-box'
import { type Source, type SourceSecretColumns, sourcesStore, type SourceStoreDeps } from './store'

/** A source's secrets opened with `from` and sealed with `to`; throws SecretKeyError when `from` cannot open one. */
function resealed(row: Source, from: SecretBox, to: SecretBox): SourceSecretColumns {
  const move = (value: string | null) => (value === null ? null : to.seal(from.open(value)))
  return { signingSecret: move(row.signingSecret), verifyToken: move(row.verifyToken), accessToken: move(row.accessToken) }
}

/** Throws SecretKeyError when an encrypted source secret cannot be opened with this box (a wrong key, or none). */
export async function assertSourceSecretsFit(deps: SourceStoreDeps, box: SecretBox): Promise<void> {
  const sealed = await sourcesStore(deps).findSealed()
  if (sealed) resealed(sealed, box, box)
}

/** Every source's secrets moved from `from` to `to` in one transaction (all or none); plaintext ones are read as they are. */
export async function resealSources(deps: SourceStoreDeps, from: SecretBox, to: SecretBox): Promise<{ sources: number; encrypted: number }> {
  const rows = await sourcesStore(deps).resealAll((row) => resealed(row, from, to))
  const encrypted = rows.flatMap((r) => [r.signingSecret, r.verifyToken, r.accessToken]).filter((v) => v !== null && isSealed(v)).length
  return { sources: rows.length, encrypted }
}
