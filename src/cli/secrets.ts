/** `askad secrets encrypt|rotate`: webhook secrets, header values and source secrets at rest under ASKAD_SECRET_KEY. */
import type { Config } from '../config'
import type { WebhooksStoreDeps } from '../modules/webhooks/store'
import { createSecretBox, parseSecretKey, type SecretBox } from '../lib/secret-box'
import { assertSourceSecretsFit, resealSources } from '../modules/sources/at-rest'
import { resealAll } from '../modules/webhooks/at-rest'
import { CliError, type Output } from './output'

/**
 * Webhook endpoints, then sources, each in one transaction. The sources are checked against `from` first, so a
 * key that opens the endpoints but not the sources changes nothing rather than leaving the two under different keys.
 */
async function resealEverything(deps: WebhooksStoreDeps, from: SecretBox, to: SecretBox) {
  await assertSourceSecretsFit(deps, from)
  const endpoints = await resealAll(deps, from, to)
  const sources = await resealSources(deps, from, to)
  return { endpoints: endpoints.endpoints, sources: sources.sources, encrypted: endpoints.encrypted + sources.encrypted }
}

/** `askad secrets encrypt`: encrypts every plaintext value with ASKAD_SECRET_KEY (encrypted ones are re-sealed with it). */
export async function secretsEncrypt(deps: WebhooksStoreDeps, out: Output, config: Config): Promise<void> {
  if (!config.secretKey) throw new CliError('Set ASKAD_SECRET_KEY (base64 of 32 random bytes, e.g. from openssl rand -base64 32) first.', 2)
  const box = createSecretBox(config.secretKey)
  const result = await resealEverything(deps, box, box)
  out.result(
    result,
    () => `Encrypted the secrets and header values of ${result.endpoints} webhook endpoint(s) and ${result.sources} source(s) (${result.encrypted} values).`,
  )
}

/** `askad secrets rotate --new-key K [--old-key K]`: re-encrypts every value from the old key (default ASKAD_SECRET_KEY) to the new one, in one transaction. */
export async function secretsRotate(deps: WebhooksStoreDeps, out: Output, config: Config, flags: { 'old-key'?: string; 'new-key'?: string }): Promise<void> {
  if (!flags['new-key']) throw new CliError('--new-key is required (base64 of 32 random bytes, e.g. from openssl rand -base64 32).', 2)
  const oldKey = flags['old-key'] ? parseSecretKey(flags['old-key'], '--old-key') : config.secretKey
  if (!oldKey) throw new CliError('Give the current key with --old-key or ASKAD_SECRET_KEY.', 2)
  const result = await resealEverything(deps, createSecretBox(oldKey), createSecretBox(parseSecretKey(flags['new-key'], '--new-key')))
  out.result(result, () =>
    [
      `Re-encrypted ${result.endpoints} webhook endpoint(s) and ${result.sources} source(s) (${result.encrypted} values) with the new key.`,
      'Set ASKAD_SECRET_KEY to the new key before the next start.',
    ].join('\n'),
  )
}
