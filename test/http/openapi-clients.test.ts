/**
 * Clients generated from the served /openapi.json, as users make them: openapi-typescript (+ openapi-fetch)
 * and @hey-api/openapi-ts each generate once, tsc type-checks a program per client that creates a lead,
 * lists contacts with `{limit: 50}` and reads `pagination.total` as a number, and the programs run against
 * the listening server. A webhook receiver typed from the document's `webhooks` section verifies a real
 * delivery with the `standardwebhooks` library.
 */
import { afterAll, beforeAll, describe, expect, setSystemTime, test } from 'bun:test'
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHarness, type Harness } from '../helpers'
import { startDispatcherDriver, type DispatcherDriver } from '../dispatcher-driver'
import { startReceiver, type Receiver } from '../webhooks-helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')
const GENERATION_TIMEOUT_MS = 60_000

type Json = Record<string, any>

const LEAD = { email: 'jane@example.com', first_name: 'Jane', last_name: 'Smith', phone: '+1234567890', source: 'hubspot', metadata: { deal_value: 5000 } }

/** The openapi-typescript + openapi-fetch program. */
const OPENAPI_FETCH_PROGRAM = `import createClient from 'openapi-fetch'
import type { components, paths } from './openapi-typescript/schema'

type Contact = components['schemas']['Contact']

/** Creates a lead, then lists contacts with {limit: 50}. */
export async function run(baseUrl: string, key: string) {
  const client = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${key}\` } })
  const created = await client.POST('/api/v1/leads/inbound', { body: ${JSON.stringify(LEAD)} })
  if (created.error) throw new Error(\`\${created.response.status} \${created.error.title}: \${created.error.detail}\`)
  const leadId: string = created.data.id
  const listed = await client.GET('/api/v1/contacts', { params: { query: { limit: 50 } } })
  if (listed.error) throw new Error(listed.error.detail)
  const n: number = listed.data.pagination.total
  const contacts: Contact[] = listed.data.data
  const leadCount: number = contacts[0]!.lead_count
  return { leadId, n, leadCount, link: listed.response.headers.get('link') }
}

/** Never called: the generated types are real, not any. */
export function wrongTypes(client: ReturnType<typeof createClient<paths>>, listed: components['schemas']['ContactList']) {
  // @ts-expect-error an email is not a number
  void client.POST('/api/v1/leads/inbound', { body: { email: 42 } })
  // @ts-expect-error limit is an integer, not text
  void client.GET('/api/v1/contacts', { params: { query: { limit: '50' } } })
  // @ts-expect-error total is a number only
  const text: string = listed.pagination.total
  return text
}
`

/** The @hey-api/openapi-ts program (its own fetch client, generated beside the SDK). */
const HEY_API_PROGRAM = `import { createClient } from './hey-api/client'
import { createInboundLead, listContacts } from './hey-api/sdk.gen'
import type { Contact, ContactList } from './hey-api/types.gen'

/** Creates a lead, then lists contacts with {limit: 50}. */
export async function run(baseUrl: string, key: string) {
  const client = createClient({ baseUrl, headers: { authorization: \`Bearer \${key}\` } })
  const created = await createInboundLead({ client, body: ${JSON.stringify(LEAD)}, throwOnError: true })
  const leadId: string = created.data.id
  const listed = await listContacts({ client, query: { limit: 50 }, throwOnError: true })
  const n: number = listed.data.pagination.total
  const contacts: Contact[] = listed.data.data
  return { leadId, n, status: created.response.status, contacts: contacts.length }
}

/** Never called: the generated types are real, not any. */
export function wrongTypes(listed: ContactList) {
  // @ts-expect-error limit is an integer, not text
  void listContacts({ query: { limit: '50' } })
  // @ts-expect-error total is a number only
  const text: string = listed.pagination.total
  return text
}
`

/** A receiver typed from the document's \`webhooks\` section, verifying with the official library. */
const RECEIVER_PROGRAM = `import { Webhook } from 'standardwebhooks'
import type { webhooks } from './openapi-typescript/schema'

/** The body askad POSTs for \`lead.created\`, as the webhooks section describes it. */
export type LeadCreated = webhooks['lead.created']['post']['requestBody']['content']['application/json']

/** Verifies the signature (throws when it does not match) and returns the typed event. */
export function receive(secret: string, headers: Record<string, string>, body: string): { event: LeadCreated; leadId: string } {
  const event = new Webhook(secret).verify(body, headers) as LeadCreated
  const type: 'lead.created' = event.type
  const leadId: string = event.data.lead.id
  return { event: { ...event, type }, leadId }
}
`

let h: Harness
let ws: Awaited<ReturnType<Harness['workspace']>>
let baseUrl: string
let dir: string
let dispatcher: DispatcherDriver
let receiver: Receiver

/** Runs a generator with TypeScript 5's compiler API, which both use and TypeScript 7 (our tsc) no longer has. */
function generate(args: string[]): void {
  const run = Bun.spawnSync(['node', '--import', join(dir, 'ts5.mjs'), ...args], { cwd: dir, stdout: 'pipe', stderr: 'pipe' })
  if (run.exitCode !== 0) throw new Error(`${args[0]} failed: ${run.stderr.toString()}${run.stdout.toString()}`)
}

beforeAll(async () => {
  h = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
  ws = await h.workspace()
  dispatcher = startDispatcherDriver(h.deps, { random: () => 0.5 })
  h.deps.wake = () => dispatcher.wake()
  receiver = startReceiver()
  h.app.listen({ hostname: '127.0.0.1', port: 0 })
  baseUrl = `http://127.0.0.1:${h.app.server!.port}`
  const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as Json
  dir = mkdtempSync(join(tmpdir(), 'askad-clients-'))
  writeFileSync(join(dir, 'openapi.json'), JSON.stringify(doc))
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  writeFileSync(
    join(dir, 'ts5-hooks.mjs'),
    "export const resolve = (specifier, context, next) => next(specifier === 'typescript' ? 'typescript5' : specifier, context)\n",
  )
  writeFileSync(join(dir, 'ts5.mjs'), "import { register } from 'node:module'\nregister('./ts5-hooks.mjs', import.meta.url)\n")
  generate([join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'), 'openapi.json', '-o', 'openapi-typescript/schema.d.ts'])
  // The package's bin re-spawns node without our --import; its entry point is run directly instead.
  generate([join(ROOT, 'node_modules/@hey-api/openapi-ts/dist/run.mjs'), '-i', 'openapi.json', '-o', 'hey-api'])
  writeFileSync(join(dir, 'openapi-fetch-client.ts'), OPENAPI_FETCH_PROGRAM)
  writeFileSync(join(dir, 'hey-api-client.ts'), HEY_API_PROGRAM)
  writeFileSync(join(dir, 'receiver.ts'), RECEIVER_PROGRAM)
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'bundler',
        allowImportingTsExtensions: true,
        lib: ['ES2022', 'DOM', 'DOM.Iterable'],
        types: [],
        skipLibCheck: true,
      },
      files: ['openapi-fetch-client.ts', 'hey-api-client.ts', 'receiver.ts'],
    }),
  )
}, GENERATION_TIMEOUT_MS)

afterAll(async () => {
  await dispatcher?.stop()
  receiver?.stop()
  await h?.app.stop(true)
  await h?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('clients generated from /openapi.json', () => {
  test('tsc type-checks the openapi-fetch, @hey-api and webhook receiver programs (integers are numbers)', () => {
    const tsc = Bun.spawnSync([join(ROOT, 'node_modules/.bin/tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: dir, stdout: 'pipe', stderr: 'pipe' })
    expect(tsc.stdout.toString() + tsc.stderr.toString()).toBe('')
    expect(tsc.exitCode).toBe(0)
  }, 30_000)

  test('the openapi-typescript + openapi-fetch program creates a lead and lists contacts against the server', async () => {
    const { run } = (await import(join(dir, 'openapi-fetch-client.ts'))) as { run: (baseUrl: string, key: string) => Promise<Json> }
    const result = await run(baseUrl, ws.key)
    expect(typeof result.n).toBe('number')
    expect(result.n).toBeGreaterThanOrEqual(1)
    expect(typeof result.leadCount).toBe('number')
    expect(result.link).toContain('rel="first"')
    const stored = await h.request('GET', `/api/v1/leads/${result.leadId}`, { key: ws.key })
    expect(stored.status).toBe(200)
  })

  test('the @hey-api/openapi-ts program creates a lead and lists contacts against the server', async () => {
    const { run } = (await import(join(dir, 'hey-api-client.ts'))) as { run: (baseUrl: string, key: string) => Promise<Json> }
    const result = await run(baseUrl, ws.key)
    expect(result.status).toBe(201)
    expect(typeof result.n).toBe('number')
    expect(result.contacts).toBeGreaterThanOrEqual(1)
    const stored = await h.request('GET', `/api/v1/leads/${result.leadId}`, { key: ws.key })
    expect(stored.status).toBe(200)
  })

  test('a receiver typed from the webhooks section verifies a real lead.created delivery', async () => {
    const created = await h.request('POST', '/api/v1/webhooks', { key: ws.key, body: { url: `${receiver.url}/hooks`, events: ['lead.created'] } })
    expect(created.status).toBe(201)
    const { secret } = (await created.json()) as { secret: string }
    const lead = await h.pushLead(ws.key, { email: 'webhook@example.com' })
    await dispatcher.runDue()
    const delivery = receiver.requests.find((r) => r.body.includes(lead.id))!
    expect(delivery).toBeDefined()
    const { receive } = (await import(join(dir, 'receiver.ts'))) as {
      receive: (secret: string, headers: Record<string, string>, body: string) => { event: Json; leadId: string }
    }
    // The signature's timestamp is the harness clock's; the library checks it against "now".
    setSystemTime(new Date(h.clock.now()))
    try {
      const { event, leadId } = receive(secret, delivery.headers, delivery.body)
      expect(leadId).toBe(lead.id)
      expect(event.type).toBe('lead.created')
      expect(() => receive(secret, { ...delivery.headers, 'webhook-signature': 'v1,AAAA' }, delivery.body)).toThrow()
    } finally {
      setSystemTime()
    }
  })
})
