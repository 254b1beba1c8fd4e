/**
 * Webhook secrets and static header values at rest: encrypted under ASKAD_SECRET_KEY (the raw
 * columns never hold them), deliveries still verify with `standardwebhooks`, plaintext rows keep
 * working, `askad secrets encrypt|rotate` re-encrypt every row, and a wrong or missing key refuses to start.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { loadConfig } from '../../src/config'
import { writeTx } from '../../src/db/tx'
import { createSecretBox, parseSecretKey } from '../../src/lib/secret-box'
import { createEndpoint } from '../../src/modules/webhooks/service'
import { emitEvent } from '../../src/db/outbox'
import { startDispatcherDriver, type DispatcherDriver } from '../dispatcher-driver'
import { createHarness, type Harness } from '../helpers'
import { startReceiver, verifyAt, type Receiver } from '../webhooks-helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')
const newKey = () => randomBytes(32).toString('base64')

let h: Harness
let dispatcher: DispatcherDriver | undefined
const receivers: Receiver[] = []
afterEach(async () => {
  await dispatcher?.stop()
  dispatcher = undefined
  receivers.splice(0).forEach((r) => r.stop())
  h?.close()
})

async function setup(key: string | undefined) {
  h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ...(key ? { ASKAD_SECRET_KEY: key } : {}) } })
  const rx = startReceiver()
  receivers.push(rx)
  return { ws: await h.workspace(), rx }
}

async function addEndpoint(key: string, url: string, headers: Record<string, string> = {}): Promise<{ id: string; secret: string }> {
  const res = await h.request('POST', '/api/v1/webhooks', { key, body: { url, headers } })
  expect(res.status).toBe(201)
  return (await res.json()) as { id: string; secret: string }
}

function rawEndpoint(id: string) {
  return h.db.$client
    .query<{ secret: string; previous_secret: string | null; headers: string }, [string]>(
      'select secret, previous_secret, headers from webhook_endpoints where id = ?',
    )
    .get(id)!
}

/** Emits one event in the workspace and sends everything due with a dispatcher built on `key`; returns the last request `rx` got. */
async function deliverWith(key: string | undefined, workspaceId: string, rx: Receiver) {
  const deps = { ...h.deps, config: loadConfig({ db: h.dbPath }, { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ...(key ? { ASKAD_SECRET_KEY: key } : {}) }) }
  writeTx(h.db, (tx) => emitEvent(tx, h.clock.now(), workspaceId, 'lead.created', { n: rx.requests.length }))
  await dispatcher?.stop()
  dispatcher = startDispatcherDriver(deps, { random: () => 0.5 })
  await dispatcher.runDue()
  return rx.requests.at(-1)!
}

/** Runs the CLI on the harness database; returns its exit code and output. */
function cli(args: string[], env: Record<string, string> = {}) {
  const run = Bun.spawnSync(['bun', 'src/index.ts', ...args, '--db', h.dbPath], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'error', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: 10_000,
  })
  return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() }
}

describe('with ASKAD_SECRET_KEY', () => {
  test('the raw columns hold neither the signing secret nor header values; deliveries verify with standardwebhooks', async () => {
    const key = newKey()
    const { ws, rx } = await setup(key)
    const { id, secret } = await addEndpoint(ws.key, rx.url, { 'X-Crm-Token': 'crm-token-value' })
    const raw = rawEndpoint(id)
    expect(raw.secret).toStartWith('enc:v1:')
    expect(JSON.stringify(raw)).not.toContain(secret.slice(6))
    expect(raw.headers).not.toContain('crm-token-value')
    expect(JSON.parse(raw.headers)).toHaveProperty('x-crm-token')

    const req = await deliverWith(key, ws.id, rx)
    expect(verifyAt(secret, req, h.clock.now())).toMatchObject({ type: 'lead.created' })
    expect(req.headers['x-crm-token']).toBe('crm-token-value')

    // After a rotation the previous secret is stored encrypted too, and both signatures verify.
    const rotated = (await (await h.request('POST', `/api/v1/webhooks/${id}/rotate-secret`, { key: ws.key })).json()) as { secret: string }
    expect(rawEndpoint(id).previous_secret).toStartWith('enc:v1:')
    const next = await deliverWith(key, ws.id, rx)
    verifyAt(secret, next, h.clock.now())
    verifyAt(rotated.secret, next, h.clock.now())
  })

  test('rows stored in plaintext before the key was set keep working next to encrypted ones', async () => {
    const key = newKey()
    const { ws, rx } = await setup(key)
    const plainDeps = { ...h.deps, config: { ...h.deps.config, secretKey: undefined } }
    const { endpoint, secret } = await createEndpoint(plainDeps, ws.id, { url: rx.url, headers: { 'x-plain': 'v' } })
    expect(rawEndpoint(endpoint.id).secret).toBe(secret)
    const req = await deliverWith(key, ws.id, rx)
    verifyAt(secret, req, h.clock.now())
    expect(req.headers['x-plain']).toBe('v')
  })

  test('a key that is not 32 bytes of base64 is refused', () => {
    expect(() => parseSecretKey('too-short')).toThrow(/ASKAD_SECRET_KEY/)
    expect(() => loadConfig({}, { ASKAD_SECRET_KEY: randomBytes(16).toString('base64') })).toThrow(/32 random bytes/)
  })
})

describe('askad secrets and the start-up check', () => {
  test('encrypt seals plaintext rows; rotate moves every row to the new key; serve refuses a wrong or missing key', async () => {
    const { ws, rx } = await setup(undefined)
    const { id, secret } = await addEndpoint(ws.key, rx.url, { 'x-token': 'header-value' })
    expect(rawEndpoint(id).secret).toBe(secret)

    const first = newKey()
    const encrypted = cli(['secrets', 'encrypt', '--json'], { ASKAD_SECRET_KEY: first })
    expect(encrypted.code, encrypted.stderr).toBe(0)
    expect(JSON.parse(encrypted.stdout)).toEqual({ endpoints: 1, sources: 0, encrypted: 2 })
    expect(rawEndpoint(id).secret).toStartWith('enc:v1:')
    expect(createSecretBox(parseSecretKey(first)).open(rawEndpoint(id).secret)).toBe(secret)

    const second = newKey()
    const rotated = cli(['secrets', 'rotate', '--new-key', second, '--json'], { ASKAD_SECRET_KEY: first })
    expect(rotated.code, rotated.stderr).toBe(0)
    const raw = rawEndpoint(id)
    expect(createSecretBox(parseSecretKey(second)).open(raw.secret)).toBe(secret)
    expect(() => createSecretBox(parseSecretKey(first)).open(raw.secret)).toThrow(/does not decrypt/)
    verifyAt(secret, await deliverWith(second, ws.id, rx), h.clock.now())
    expect(rx.requests.at(-1)!.headers['x-token']).toBe('header-value')

    // Rotating from a key that did not encrypt the rows changes nothing.
    const wrongRotate = cli(['secrets', 'rotate', '--old-key', newKey(), '--new-key', newKey()])
    expect(wrongRotate.code).toBe(1)
    expect(rawEndpoint(id).secret).toBe(raw.secret)

    for (const env of [{ ASKAD_SECRET_KEY: first }, {}] as Record<string, string>[]) {
      const started = cli(['serve', '--port', '0'], env)
      expect(started.code).toBe(1)
      expect(started.stderr).toContain('ASKAD_SECRET_KEY')
    }
  }, 30_000)
})
