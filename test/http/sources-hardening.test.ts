/**
 * Sources under attack: what a hostile sender or a careless operator could make of a source URL, its
 * token and the rows it leaves behind. Each test here failed on the code it was written against.
 */
import { afterAll, expect, test } from 'bun:test'
import type { Actor } from '../../src/lib/actor'
import { fetchGraphLeads } from '../../src/modules/sources/graph'
import { deleteWorkspace } from '../../src/modules/workspaces/service'
import { createHarness, expectProblem } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness({ env: { ASKAD_RATE_LIMIT: '100/60s' } })
afterAll(() => h.close())

const CLI: Actor = { type: 'cli', id: null, label: 'cli', ip: null }
const JSON_TYPE = { 'content-type': 'application/json' }

/** A zapier source of the workspace; answers the path of its URL and its token. */
async function zapierSource(key: string): Promise<{ id: string; path: string; token: string }> {
  const res = await h.request('POST', '/api/v1/sources', { key, body: { name: 'Zap', preset: 'zapier' } })
  expect(res.status).toBe(201)
  const { id, url } = (await res.json()) as { id: string; url: string }
  const path = new URL(url).pathname
  return { id, path, token: path.split('/').pop()! }
}

test('deleting a workspace takes the stored Idempotency-Key answers of its keys and sources along', async () => {
  const ws = await h.workspace()
  const other = await h.workspace()
  const source = await zapierSource(ws.key)
  const lead = { email: 'kept-answer@example.com', first_name: 'Kept' }
  const viaKey = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: lead, headers: { 'idempotency-key': 'by-key' } })
  expect(viaKey.status).toBe(201)
  const viaSource = await h.request('POST', source.path, { rawBody: JSON.stringify(lead), headers: { ...JSON_TYPE, 'idempotency-key': 'by-source' } })
  expect(viaSource.status).toBe(201)
  const untouched = await h.request('POST', '/api/v1/leads/inbound', { key: other.key, body: lead, headers: { 'idempotency-key': 'by-key' } })
  expect(untouched.status).toBe(201)

  await deleteWorkspace({ ...h.deps, actor: CLI }, ws.id)

  // The answer to POST /leads/inbound holds the person: it must not outlive the workspace (the foreign key that took it is gone).
  expect(await h.rows.count('idempotencyKeys', { apiKeyId: ws.keyId })).toBe(0)
  expect(await h.rows.count('idempotencyKeys', { apiKeyId: source.id })).toBe(0)
  expect(await h.rows.count('idempotencyKeys', { apiKeyId: other.keyId })).toBe(1)
})

test('a source token with a percent-escaped character is refused and not written whole to the access log', async () => {
  const ws = await h.workspace()
  const { path, token } = await zapierSource(ws.key)
  // The ninth character written as its escape (`src_kEek%36EX…`): the same token to a reader, another string to the gate.
  const escaped = `${token.slice(0, 8)}%${token.charCodeAt(8).toString(16).toUpperCase()}${token.slice(9)}`
  const res = await h.request('POST', path.replace(token, escaped), { rawBody: '{"email":"x@example.com"}', headers: JSON_TYPE })
  expect(res.status).toBe(401)
  const line = h.logs.findLast((l) => l.includes('"msg":"request"'))!
  expect(line).toContain(`${token.slice(0, 8)}…`)
  expect(line).not.toContain(token.slice(9))
})

/** A Graph API on 127.0.0.1 that answers every lead after `delayMs`, or sends its headers and never ends the body. */
function slowGraph(behaviour: { delayMs: number } | 'stalls') {
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      if (behaviour === 'stalls') {
        const body = new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('{"id":')) })
        request.signal.addEventListener('abort', () => body.cancel().catch(() => {}))
        return new Response(body, { headers: { 'content-type': 'application/json' } })
      }
      await Bun.sleep(behaviour.delayMs)
      return Response.json({ id: '1', field_data: [{ name: 'email', values: ['slow@example.com'] }] })
    },
  })
  return { config: { ...h.deps.config, facebookGraphUrl: `http://127.0.0.1:${server.port}/v21.0` }, stop: () => server.stop(true) }
}

test("a delivery's Graph fetches share one deadline: slow leads add up to a retry, not a dropped connection", async () => {
  const graph = slowGraph({ delayMs: 120 })
  try {
    const started = performance.now()
    const result = await fetchGraphLeads(graph, ['1', '2', '3', '4'], 'page-token', fetch, 300)
    expect(result).toMatchObject({ ok: false, retry: true, status: null })
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(JSON.stringify(result)).not.toContain('page-token')
  } finally {
    graph.stop()
  }
})

test('a Graph answer whose body stalls is a failed fetch to retry, not a thrown error', async () => {
  const graph = slowGraph('stalls')
  try {
    expect(await fetchGraphLeads(graph, ['1'], 'page-token', fetch, 200)).toMatchObject({ ok: false, retry: true })
  } finally {
    graph.stop()
  }
})

test("an Idempotency-Key replay on a source URL is only for a sender who passes the source's own check", async () => {
  const ws = await h.workspace()
  const res = await h.request('POST', '/api/v1/sources', { key: ws.key, body: { name: 'Signed zap', preset: 'zapier', signing_secret: 'zap-secret' } })
  const path = new URL(((await res.json()) as { url: string }).url).pathname
  const body = JSON.stringify({ email: 'replayed@example.com', first_name: 'Rae' })
  const send = (headers: Record<string, string>) =>
    h.request('POST', path, { rawBody: body, headers: { ...JSON_TYPE, 'idempotency-key': 'delivery-1', ...headers } })

  const first = await send({ 'x-askad-secret': 'zap-secret' })
  expect(first.status).toBe(201)
  const stored = await first.text()
  // Someone who has the URL and the bytes but not the secret gets nothing back, not even the stored ids.
  for (const refused of [await send({}), await send({ 'x-askad-secret': 'guess' })]) {
    expect(refused.status).toBe(401)
    expect(refused.headers.get('idempotent-replayed')).toBeNull()
  }
  const retry = await send({ 'x-askad-secret': 'zap-secret' })
  expect(retry.status).toBe(201)
  expect(retry.headers.get('idempotent-replayed')).toBe('true')
  expect(await retry.text()).toBe(stored)
  expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(1)
})

test('a source URL called from a browser page is refused with a word about source URLs, not about keys', async () => {
  const ws = await h.workspace()
  const { path } = await zapierSource(ws.key)
  const res = await h.request('POST', path, { rawBody: '{"email":"page@example.com"}', headers: { ...JSON_TYPE, origin: 'https://shop.example' } })
  const problem = await expectProblem(res, 403)
  expect(problem.detail).toContain('source URL')
  expect(problem.detail).not.toContain('Secret keys')
  expect(await h.rows.count('leads', { workspaceId: ws.id })).toBe(0)
})

test("a source made without a rate limit takes its creator's lower one, not the instance default", async () => {
  const ws = await h.workspace(undefined, { rateLimit: 3 })
  const res = await h.request('POST', '/api/v1/sources', { key: ws.key, body: { name: 'Unlimited?', preset: 'generic' } })
  expect(res.status).toBe(201)
  const { rate_limit, url } = (await res.json()) as { rate_limit: number | null; url: string }
  expect(rate_limit).toBe(3)
  const path = new URL(url).pathname
  const statuses: number[] = []
  for (let i = 0; i < 4; i++)
    statuses.push((await h.request('POST', path, { rawBody: JSON.stringify({ email: `r${i}@example.com` }), headers: JSON_TYPE })).status)
  expect(statuses).toEqual([201, 201, 201, 429])
})

test("Facebook's handshake echo is never sniffed as a page nor cached", async () => {
  const ws = await h.workspace()
  const res = await h.request('POST', '/api/v1/sources', { key: ws.key, body: { name: 'fb', preset: 'facebook', signing_secret: 's', verify_token: 'v' } })
  const path = new URL(((await res.json()) as { url: string }).url).pathname
  const challenge = '<script>alert(1)</script>'
  const echo = await h.request('GET', `${path}?hub.mode=subscribe&hub.verify_token=v&hub.challenge=${encodeURIComponent(challenge)}`)
  expect(echo.status).toBe(200)
  expect(await echo.text()).toBe(challenge)
  expect(echo.headers.get('content-type')).toStartWith('text/plain')
  expect(echo.headers.get('x-content-type-options')).toBe('nosniff')
  expect(echo.headers.get('cache-control')).toBe('no-store')
})
