/**
 * Sources through the real app: managing them (the URL shown once, rotation, revocation, audit), and the
 * source URL itself: each preset's fixture with a valid and an invalid signature, a Zapier-style form post,
 * the token's single scope, brute-force counting and the per-source rate limit.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createSecretBox, parseSecretKey } from '../../src/lib/secret-box'
import { assertSourceSecretsFit, resealSources } from '../../src/modules/sources/at-rest'
import { createHarness, expectProblem } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness({ env: { ASKAD_RATE_LIMIT: '100/60s' } })
afterAll(() => h.close())

interface Created {
  id: string
  url: string
  prefix: string
  preset: string
  has_signing_secret: boolean
  revoked_at: string | null
}

/** A source created through the API; answers its body. */
async function createSource(key: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Created> {
  const res = await h.request('POST', '/api/v1/sources', { key, body, headers })
  expect(res.status).toBe(201)
  return (await res.json()) as Created
}

/** The path of a source URL (the harness serves http://localhost). */
const pathOf = (url: string) => new URL(url).pathname

/** Posts raw bytes to a source URL. */
function deliver(url: string, body: BodyInit, contentType: string, headers: Record<string, string> = {}) {
  return h.request('POST', pathOf(url), { rawBody: body, headers: { 'content-type': contentType, ...headers } })
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
const FORM = 'application/x-www-form-urlencoded'

const FIXTURES = join(import.meta.dir, '../fixtures/sources')
const fixture = (name: string) => readFileSync(join(FIXTURES, name))

const hmac = (secret: string, data: string | Uint8Array, encoding: 'hex' | 'base64') => createHmac('sha256', secret).update(data).digest(encoding)

/** How a tool signs a delivery: the headers for these bytes sent to this URL with this secret. */
type Signer = (secret: string, body: Uint8Array, url: string) => Record<string, string>

/** The flat-field tools send the source's secret back verbatim in a header they let the user add. */
const sharedSecret: Signer = (secret) => ({ 'x-askad-secret': secret })

/** HubSpot v3: base64 HMAC-SHA256 of method + URL + body + timestamp (ms), with the app's client secret. */
const hubspotV3: Signer = (secret, body, url) => {
  const timestamp = String(h.clock.now())
  return {
    'x-hubspot-request-timestamp': timestamp,
    'x-hubspot-signature-v3': hmac(secret, `POST${url}${new TextDecoder().decode(body)}${timestamp}`, 'base64'),
  }
}

/** Typeform: `sha256=` and the base64 HMAC-SHA256 of the raw body. */
const typeformSignature: Signer = (secret, body) => ({ 'typeform-signature': `sha256=${hmac(secret, body, 'base64')}` })

/** Facebook: `sha256=` and the hex HMAC-SHA256 of the raw body, with the app secret. */
const facebookSignature: Signer = (secret, body) => ({ 'x-hub-signature-256': `sha256=${hmac(secret, body, 'hex')}` })

/** Each preset's sample payloads (test/fixtures/sources), how the tool signs them, and the lead each must become. */
const CASES: { preset: string; file: string; contentType: string; sign: Signer; lead: Record<string, unknown> }[] = [
  {
    preset: 'generic',
    file: 'generic.json',
    contentType: 'application/json',
    sign: sharedSecret,
    lead: { email: 'jane@example.com', first_name: 'Jane', source: 'hubspot' },
  },
  {
    preset: 'zapier',
    file: 'zapier-lead-form.txt',
    contentType: 'application/x-www-form-urlencoded',
    sign: sharedSecret,
    lead: { email: 'bryan@example.com', first_name: 'Bryan', last_name: 'Helmig', source: 'zapier' },
  },
  {
    preset: 'make',
    file: 'make-json.json',
    contentType: 'application/json',
    sign: sharedSecret,
    lead: { email: 'maria.garcia@example.com', last_name: 'García', source: 'make' },
  },
  {
    preset: 'n8n',
    file: 'n8n-form-trigger.json',
    contentType: 'application/json',
    sign: sharedSecret,
    lead: { email: 'ada@example.com', first_name: 'Ada', source: 'n8n' },
  },
  { preset: 'hubspot', file: 'hubspot-workflow-contact.json', contentType: 'application/json', sign: hubspotV3, lead: { source: 'hubspot' } },
  {
    preset: 'hubspot',
    file: 'hubspot-workflow-flat.json',
    contentType: 'application/json',
    sign: hubspotV3,
    lead: { email: 'emailmaria@hubspot.com', first_name: 'Maria', source: 'hubspot' },
  },
  {
    preset: 'typeform',
    file: 'typeform-example.json',
    contentType: 'application/json',
    sign: typeformSignature,
    lead: { email: 'laura@example.com', source: 'typeform' },
  },
]

describe("each preset's sample payload, signed and not", () => {
  for (const c of CASES) {
    test(`${c.preset}: ${c.file} with a valid signature is stored; with a wrong one, 401 and nothing stored`, async () => {
      const ws = await h.workspace()
      const secret = `${c.preset}-secret-${crypto.randomUUID()}`
      const { url } = await createSource(ws.key, { name: c.preset, preset: c.preset, signing_secret: secret })
      const body = fixture(c.file)
      const send = (headers: Record<string, string>) => deliver(url, body, c.contentType, headers)

      await expectProblem(await send(c.sign('not-the-secret', body, url)), 401)
      await expectProblem(await send({}), 401)
      expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(0)

      const res = await send(c.sign(secret, body, url))
      expect(res.status).toBe(201)
      const { leads } = (await res.json()) as { leads: { id: string }[] }
      expect(leads).toHaveLength(1)
      const lead = await (await h.request('GET', `/api/v1/leads/${leads[0]!.id}`, { key: ws.key })).json()
      expect(lead).toMatchObject({ channel: 'inbound', ...c.lead })
    })
  }

  test("Zapier's own samples (a name, no email or phone) are signed right but no lead: 422 naming /email, nothing stored", async () => {
    const ws = await h.workspace()
    const { url } = await createSource(ws.key, { name: 'zap', preset: 'zapier', signing_secret: 'zap' })
    await expectProblem(await deliver(url, fixture('zapier-json.json'), 'application/json', sharedSecret('zap', new Uint8Array(), url)), 422, ['/email'])
    await expectProblem(await deliver(url, fixture('zapier-form.txt'), FORM, sharedSecret('zap', new Uint8Array(), url)), 422, ['/email'])
    expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(0)
  })

  test('a signature over other bytes or for another URL does not pass', async () => {
    const ws = await h.workspace()
    const secret = 'hubspot-client-secret'
    const { url } = await createSource(ws.key, { name: 'hs', preset: 'hubspot', signing_secret: secret })
    const body = fixture('hubspot-workflow-flat.json')
    await expectProblem(await deliver(url, body, 'application/json', hubspotV3(secret, body, url.replace('localhost', 'elsewhere.example'))), 401)
    await expectProblem(await deliver(url, body, 'application/json', hubspotV3(secret, new TextEncoder().encode(' '), url)), 401)
    expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(0)
  })

  test('behind a trusted proxy, the URL a HubSpot signature covers is the one the sender called', async () => {
    const own = createHarness({ env: { ASKAD_TRUSTED_PROXIES: '127.0.0.1' } })
    try {
      const ws = await own.workspace()
      const secret = 'hubspot-client-secret'
      const created = await own.request('POST', '/api/v1/sources', { key: ws.key, body: { name: 'hs', preset: 'hubspot', signing_secret: secret } })
      const path = new URL(((await created.json()) as Created).url).pathname
      const publicUrl = `https://leads.example.com${path}`
      const body = fixture('hubspot-workflow-flat.json')
      const timestamp = String(own.clock.now())
      const signature = hmac(secret, `POST${publicUrl}${new TextDecoder().decode(body)}${timestamp}`, 'base64')
      const res = await own.request('POST', path, {
        rawBody: body,
        headers: {
          'content-type': 'application/json',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'leads.example.com',
          'x-hubspot-request-timestamp': timestamp,
          'x-hubspot-signature-v3': signature,
        },
      })
      expect(res.status).toBe(201)
    } finally {
      await own.close()
    }
  })

  test('facebook: the GET handshake echoes the challenge with the right verify token, else 403', async () => {
    const ws = await h.workspace()
    const { url } = await createSource(ws.key, { name: 'fb', preset: 'facebook', signing_secret: 'app-secret', verify_token: 'meatyhamhock' })
    const query = fixture('facebook-verify-query.txt').toString().trim()
    const ok = await h.request('GET', `${pathOf(url)}?${query}`)
    expect(ok.status).toBe(200)
    expect(await ok.text()).toBe('1158201444')
    await expectProblem(await h.request('GET', `${pathOf(url)}?${query.replace('meatyhamhock', 'wrong')}`), 403)
  })

  test('facebook: a signed leadgen notification without an access token is acknowledged (200), stores nothing and is logged', async () => {
    const ws = await h.workspace()
    const secret = 'facebook-app-secret'
    const { url } = await createSource(ws.key, { name: 'fb', preset: 'facebook', signing_secret: secret, verify_token: 'v' })
    const body = fixture('facebook-leadgen.json')
    await expectProblem(await deliver(url, body, 'application/json', facebookSignature('wrong', body, url)), 401)
    const res = await deliver(url, body, 'application/json', facebookSignature(secret, body, url))
    expect(res.status).toBe(200)
    const answer = (await res.json()) as { status: string; detail: string }
    expect(answer.status).toBe('nothing_stored')
    expect(answer.detail).toContain('access token')
    expect(h.logs.some((line) => line.includes('source.fetch_skipped'))).toBe(true)
    expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(0)
  })

  test('facebook: with a page access token each lead is fetched from the Graph API (on 127.0.0.1) and stored', async () => {
    const asked: string[] = []
    let graphStatus = 200
    const graph = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(request) {
        asked.push(request.url)
        if (graphStatus !== 200) return Response.json({ error: { message: 'Invalid OAuth access token.' } }, { status: graphStatus })
        return new Response(fixture('facebook-lead.json'), { headers: { 'content-type': 'application/json' } })
      },
    })
    const own = createHarness({ env: { ASKAD_FACEBOOK_GRAPH_URL: `http://127.0.0.1:${graph.port}/v21.0` } })
    try {
      const ws = await own.workspace()
      const secret = 'facebook-app-secret'
      const created = await own.request('POST', '/api/v1/sources', {
        key: ws.key,
        body: { name: 'fb', preset: 'facebook', signing_secret: secret, verify_token: 'v', access_token: 'page-token-123' },
      })
      const path = pathOf(((await created.json()) as Created).url)
      const body = fixture('facebook-leadgen.json')
      const send = () => own.request('POST', path, { rawBody: body, headers: { 'content-type': 'application/json', ...facebookSignature(secret, body, '') } })
      const res = await send()
      expect(res.status).toBe(201)
      expect(asked).toEqual([`http://127.0.0.1:${graph.port}/v21.0/123123123123?access_token=page-token-123`])
      const { leads } = (await res.json()) as { leads: { id: string }[] }
      const lead = await (await own.request('GET', `/api/v1/leads/${leads[0]!.id}`, { key: ws.key })).json()
      expect(lead).toMatchObject({ email: 'james.oak@example.org', first_name: 'James', last_name: 'Oak', source: 'facebook' })
      expect(lead.metadata).toMatchObject({ facebook_lead_id: '555971704561545', gender: 'male' })
      expect(own.logs.join('\n')).not.toContain('page-token-123')

      // Graph refusing the token for good: acknowledged so Facebook keeps the subscription; nothing stored, logged.
      graphStatus = 400
      const refused = await send()
      expect(refused.status).toBe(200)
      expect(((await refused.json()) as { detail: string }).detail).toContain('Invalid OAuth access token')
      // Graph failing: 503, so Facebook sends the notification again.
      graphStatus = 500
      await expectProblem(await send(), 503)
      expect(await own.rows.count('leads', { workspaceId: ws.id })).toBe(1)
      expect(own.logs.join('\n')).not.toContain('page-token-123')
    } finally {
      await own.close()
      graph.stop(true)
    }
  })
})

describe('managing sources', () => {
  test('creation answers the URL once (no-store, on the request origin); listings and reads never show it', async () => {
    const ws = await h.workspace()
    const res = await h.request('POST', '/api/v1/sources', { key: ws.key, body: { name: 'Zapier', preset: 'zapier' } })
    expect(res.status).toBe(201)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const created = (await res.json()) as Created
    expect(res.headers.get('location')).toBe(`/api/v1/sources/${created.id}`)
    expect(created.url).toMatch(/^http:\/\/localhost\/api\/v1\/in\/src_[0-9A-Za-z]{36}$/)
    const token = created.url.split('/').pop()!
    expect(created.prefix).toBe(`${token.slice(0, 8)}…`)
    expect(JSON.stringify(await h.rows.all('sources', { workspaceId: ws.id }))).not.toContain(token)

    const list = await h.request('GET', '/api/v1/sources', { key: ws.key })
    const one = await h.request('GET', `/api/v1/sources/${created.id}`, { key: ws.key })
    for (const text of [await list.text(), await one.text()]) {
      expect(text).not.toContain(token)
      expect(text).toContain(created.prefix)
    }
  })

  test('behind a trusted proxy the URL is built on the forwarded origin; from anyone else the header is ignored', async () => {
    // In-process requests come from 127.0.0.1: trusted in one harness, not in the other.
    const trusted = createHarness({ env: { ASKAD_TRUSTED_PROXIES: '127.0.0.1' } })
    const untrusted = createHarness({ env: { ASKAD_TRUSTED_PROXIES: '10.0.0.0/8' } })
    const urlFrom = async (own: typeof h) => {
      const ws = await own.workspace()
      const res = await own.app.handle(
        new Request('http://internal:8080/api/v1/sources', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${ws.key}`,
            'content-type': 'application/json',
            'x-forwarded-proto': 'https',
            'x-forwarded-host': 'leads.example.com',
          },
          body: JSON.stringify({ name: 'x', preset: 'generic' }),
        }),
      )
      return ((await res.json()) as Created).url
    }
    try {
      expect(await urlFrom(trusted)).toStartWith('https://leads.example.com/api/v1/in/src_')
      expect(await urlFrom(untrusted)).toStartWith('http://internal:8080/api/v1/in/src_')
    } finally {
      await trusted.close()
      await untrusted.close()
    }
  })

  test('the secret fields follow the preset: required ones missing and foreign ones given are 422 with the path', async () => {
    const ws = await h.workspace()
    const send = (body: Record<string, unknown>) => h.request('POST', '/api/v1/sources', { key: ws.key, body })
    await expectProblem(await send({ name: 'x', preset: 'generic', verify_token: 'v' }), 422, ['/verify_token'])
    await expectProblem(await send({ name: 'x', preset: 'generic', access_token: 'a' }), 422, ['/access_token'])
    await expectProblem(await send({ name: 'x', preset: 'generic', signing_secret: '   ' }), 422, ['/signing_secret'])
    await expectProblem(await send({ name: 'x', preset: 'nope' }), 422)
    await expectProblem(await send({ name: ' ', preset: 'generic' }), 422, ['/name'])
    await expectProblem(await send({ name: 'x', preset: 'generic', rate_limit: 101 }), 422, ['/rate_limit'])
    expect(await h.rows.count('sources', { workspaceId: ws.id })).toBe(0)
  })

  test('managing takes keys:manage; a key without it gets 403', async () => {
    const ws = await h.workspace()
    const writer = await h.key(ws.id, { scopes: ['leads:write'] })
    await expectProblem(await h.request('POST', '/api/v1/sources', { key: writer.key, body: { name: 'x', preset: 'generic' } }), 403)
    await expectProblem(await h.request('GET', '/api/v1/sources', { key: writer.key }), 403)
  })

  test('rotation answers a new URL and the old one stops at once; revocation stops it; both are audited without secrets', async () => {
    const ws = await h.workspace()
    const created = await createSource(ws.key, { name: 'Form', preset: 'generic', signing_secret: 'shared-secret-1' })
    const lead = form({ email: 'rot@example.com' })
    const secret = { 'x-askad-secret': 'shared-secret-1' }
    expect((await deliver(created.url, lead, FORM, secret)).status).toBe(201)

    const rotated = await h.request('POST', `/api/v1/sources/${created.id}/rotate`, { key: ws.key })
    expect(rotated.status).toBe(200)
    expect(rotated.headers.get('cache-control')).toBe('no-store')
    const { url } = (await rotated.json()) as Created
    expect(url).not.toBe(created.url)
    await expectProblem(await deliver(created.url, lead, FORM, secret), 401)
    expect((await deliver(url, lead, FORM, secret)).status).toBe(201)

    const revoked = await h.request('DELETE', `/api/v1/sources/${created.id}`, { key: ws.key })
    expect(revoked.status).toBe(200)
    expect(((await revoked.json()) as Created).revoked_at).not.toBeNull()
    await expectProblem(await deliver(url, lead, FORM, secret), 401)
    await expectProblem(await h.request('POST', `/api/v1/sources/${created.id}/rotate`, { key: ws.key }), 409)
    // Revoking again changes nothing.
    expect((await h.request('DELETE', `/api/v1/sources/${created.id}`, { key: ws.key })).status).toBe(200)

    const audit = await h.rows.all('auditLog', { workspaceId: ws.id })
    expect(audit.map((a) => a.action).filter((a) => a.startsWith('source.'))).toEqual(['source.created', 'source.rotated', 'source.revoked'])
    const text = JSON.stringify(audit)
    for (const secretText of ['shared-secret-1', created.url.split('/').pop()!, url.split('/').pop()!]) expect(text).not.toContain(secretText)
  })

  test('with ASKAD_SECRET_KEY the secrets are sealed at rest; re-sealed under another key they are refused with 503, never a 500', async () => {
    const keyA = Buffer.alloc(32, 7).toString('base64')
    const keyB = Buffer.alloc(32, 8).toString('base64')
    const own = createHarness({ env: { ASKAD_SECRET_KEY: keyA } })
    try {
      const ws = await own.workspace()
      const secret = 'typeform-webhook-secret'
      const created = await own.request('POST', '/api/v1/sources', { key: ws.key, body: { name: 'tf', preset: 'typeform', signing_secret: secret } })
      const { id, url } = (await created.json()) as Created
      const row = (await own.rows.find('sources', { id }))!
      expect(row.signingSecret).toStartWith('enc:v1:')
      expect(JSON.stringify(row)).not.toContain(secret)
      const body = fixture('typeform-example.json')
      const send = () =>
        own.request('POST', pathOf(url), { rawBody: body, headers: { 'content-type': 'application/json', ...typeformSignature(secret, body, url) } })
      expect((await send()).status).toBe(201)

      const [boxA, boxB] = [createSecretBox(parseSecretKey(keyA)), createSecretBox(parseSecretKey(keyB))]
      expect(await resealSources(own.deps, boxA, boxB)).toEqual({ sources: 1, encrypted: 1 })
      expect(boxB.open((await own.rows.find('sources', { id }))!.signingSecret!)).toBe(secret)
      expect(assertSourceSecretsFit(own.deps, boxA)).rejects.toThrow(/does not decrypt/)
      await expectProblem(await send(), 503)
    } finally {
      await own.close()
    }
  })

  test('an Idempotency-Key replay of a creation shows the URL redacted and mints nothing', async () => {
    const ws = await h.workspace()
    const post = () => h.request('POST', '/api/v1/sources', { key: ws.key, body: { name: 'Idem', preset: 'generic' }, headers: { 'idempotency-key': 'src-1' } })
    const first = (await (await post()).json()) as Created
    const token = first.url.split('/').pop()!
    expect(JSON.stringify(await h.rows.all('idempotencyKeys'))).not.toContain(token)
    const replay = await post()
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(replay.headers.get('cache-control')).toBe('no-store')
    expect(((await replay.json()) as Created).url).toEndWith(`/in/${token.slice(0, 8)}…`)
    expect(await h.rows.count('sources', { workspaceId: ws.id })).toBe(1)
  })

  test("another workspace's source is 404 to read, rotate and revoke", async () => {
    const mine = await h.workspace()
    const theirs = await h.workspace()
    const source = await createSource(theirs.key, { name: 'x', preset: 'generic' })
    await expectProblem(await h.request('GET', `/api/v1/sources/${source.id}`, { key: mine.key }), 404)
    await expectProblem(await h.request('POST', `/api/v1/sources/${source.id}/rotate`, { key: mine.key }), 404)
    await expectProblem(await h.request('DELETE', `/api/v1/sources/${source.id}`, { key: mine.key }), 404)
  })
})

describe('the source URL', () => {
  test('a Zapier-style form post lands as a lead with its name mapped; unknown fields go to metadata', async () => {
    const ws = await h.workspace()
    const { url } = await createSource(ws.key, { name: 'Zap', preset: 'zapier' })
    const res = await deliver(url, form({ first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', plan: 'pro' }), FORM)
    expect(res.status).toBe(201)
    const body = (await res.json()) as { status: string; leads: { id: string; contact_id: string }[] }
    expect(body.status).toBe('created')
    expect(body.leads).toHaveLength(1)
    expect(res.headers.get('location')).toBe(`/api/v1/leads/${body.leads[0]!.id}`)
    const lead = (await (await h.request('GET', `/api/v1/leads/${body.leads[0]!.id}`, { key: ws.key })).json()) as Record<string, unknown>
    expect(lead).toMatchObject({ first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', channel: 'inbound', source: 'zapier' })
    expect(lead.metadata).toEqual({ plan: 'pro' })
  })

  test('a GET to a source whose tool never checks its URL is 405', async () => {
    const ws = await h.workspace()
    const { url } = await createSource(ws.key, { name: 'Zap', preset: 'zapier' })
    await expectProblem(await h.request('GET', pathOf(url)), 405)
  })

  test('JSON and multipart bodies are taken as well (no 415 for a tool that cannot choose)', async () => {
    const ws = await h.workspace()
    const { url } = await createSource(ws.key, { name: 'Any', preset: 'generic' })
    expect((await deliver(url, JSON.stringify({ email: 'json@example.com' }), 'application/json')).status).toBe(201)
    const multipart = new FormData()
    multipart.set('email', 'multi@example.com')
    const res = await h.request('POST', pathOf(url), { rawBody: multipart })
    expect(res.status).toBe(201)
  })

  test('a lead that fails validation is a 422 and nothing is stored, also when it is one of several', async () => {
    const ws = await h.workspace()
    const { url } = await createSource(ws.key, { name: 'Any', preset: 'generic' })
    await expectProblem(await deliver(url, form({ first_name: 'No contact' }), FORM), 422, ['/email'])
    const batch = JSON.stringify([{ email: 'ok@example.com' }, { email: 'not-an-email' }])
    await expectProblem(await deliver(url, batch, 'application/json'), 422, ['/leads/1/email'])
    expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(0)
  })

  test('several leads in one delivery are stored together and listed in order', async () => {
    const ws = await h.workspace()
    const { url } = await createSource(ws.key, { name: 'Batch', preset: 'generic' })
    const res = await deliver(url, JSON.stringify([{ email: 'a@example.com' }, { email: 'b@example.com' }]), 'application/json')
    expect(res.status).toBe(201)
    expect(res.headers.get('location')).toBeNull()
    const { leads } = (await res.json()) as { leads: { id: string }[] }
    expect(leads).toHaveLength(2)
    expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(2)
  })

  test('an Idempotency-Key on a delivery replays the first answer and stores nothing twice', async () => {
    const ws = await h.workspace()
    const { url } = await createSource(ws.key, { name: 'Idem', preset: 'generic' })
    const send = () => deliver(url, form({ email: 'idem@example.com' }), FORM, { 'idempotency-key': 'delivery-1' })
    const first = await send()
    const again = await send()
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(await again.json()).toEqual(await first.json())
    expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(1)
  })

  test('the token can only push leads: as a Bearer key it reaches nothing, and a key in the header does not open a source URL', async () => {
    const ws = await h.workspace()
    const { url } = await createSource(ws.key, { name: 'x', preset: 'generic' })
    const token = url.split('/').pop()!
    for (const [method, path] of [
      ['GET', '/api/v1/leads'],
      ['GET', '/api/v1/contacts'],
      ['POST', '/api/v1/leads/inbound'],
      ['GET', '/api/v1/sources'],
    ] as const)
      await expectProblem(await h.request(method, path, { key: token, body: method === 'POST' ? { email: 'x@example.com' } : undefined }), 401)
    // The token must be in the path, not the query of another route, and a valid key cannot stand in for it.
    await expectProblem(await h.request('GET', `/api/v1/leads?key=${token}`), 401)
    await expectProblem(await h.request('POST', '/api/v1/in/src_nope', { key: ws.key, body: { email: 'x@example.com' } }), 401)
  })

  test('unknown and revoked tokens count as failed authentications of the address, like bad keys: then 429', async () => {
    const own = createHarness({ env: { ASKAD_RATE_LIMIT: '3/60s' } })
    try {
      const ws = await own.workspace()
      const created = await own.request('POST', '/api/v1/sources', { key: ws.key, body: { name: 'x', preset: 'generic' } })
      const { url } = (await created.json()) as Created
      const wellFormedButUnknown = url.replace(/src_\w/, (m) => (m.endsWith('A') ? 'src_B' : 'src_A'))
      const post = (path: string) => own.request('POST', path, { rawBody: form({ email: 'x@example.com' }), headers: { 'content-type': FORM } })
      await expectProblem(await post('/api/v1/in/src_garbage'), 401)
      await expectProblem(await post(pathOf(wellFormedButUnknown)), 401)
      await expectProblem(await post('/api/v1/in/'), 401)
      const refused = await post('/api/v1/in/src_garbage')
      await expectProblem(refused, 429)
      expect(refused.headers.get('retry-after')).not.toBeNull()
      // The valid URL still works from that address: only failures spend the failure budget.
      expect((await post(pathOf(url))).status).toBe(201)
    } finally {
      await own.close()
    }
  })

  test('each source has its own rate-limit bucket with X-RateLimit-* headers; past it, 429', async () => {
    const ws = await h.workspace()
    const limited = await createSource(ws.key, { name: 'Limited', preset: 'generic', rate_limit: 2 })
    const other = await createSource(ws.key, { name: 'Other', preset: 'generic' })
    const send = (url: string, i: number) => deliver(url, form({ email: `r${i}@example.com` }), FORM)
    const first = await send(limited.url, 1)
    expect(first.status).toBe(201)
    expect(first.headers.get('x-ratelimit-limit')).toBe('2')
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1')
    expect((await send(limited.url, 2)).status).toBe(201)
    const refused = await send(limited.url, 3)
    await expectProblem(refused, 429)
    expect(refused.headers.get('retry-after')).not.toBeNull()
    expect((await send(other.url, 4)).status).toBe(201)
    expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(3)
  })

  test('a body over 1 MiB is 413 and the token never appears in the access log', async () => {
    const ws = await h.workspace()
    const { url } = await createSource(ws.key, { name: 'Big', preset: 'generic' })
    await expectProblem(await deliver(url, 'a'.repeat(1024 * 1024 + 1), 'text/plain'), 413)
    const token = url.split('/').pop()!
    expect(h.logs.join('\n')).not.toContain(token)
  })
})
