/** What plugins read from an app's route table before Elysia routes: patterns, form parsers, key sources. */
import { expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { keyAuthenticator } from '../../src/app'
import { auth, scopes } from '../../src/plugins/auth'
import { bodyParser, formParser } from '../../src/plugins/body'
import { errors } from '../../src/plugins/errors'
import { acceptsForms, FORM_PARSER, keySourcesOf, routeMatcher, routeTable } from '../../src/plugins/route-table'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const app = new Elysia()
  .use(scopes)
  .use(formParser)
  .get('/leads/:id', ({ route }) => route)
  .get('/leads/export', ({ route }) => route)
  .post('/leads/capture', ({ route }) => route, { parse: FORM_PARSER, keyFrom: ['header', 'query', 'form'] })
  .all('/any/:x/deep', ({ route }) => route)
  .get('/files/*', ({ route }) => route)
  .group('/v1', (g) => g.get('/deals/:id/stage', ({ route }) => route))

const match = routeMatcher(routeTable(app))

test("the matcher picks the pattern Elysia's router picks", async () => {
  const requests: [string, string][] = [
    ['GET', '/leads/42'],
    ['GET', '/leads/export'],
    ['GET', '/leads/export/'],
    ['HEAD', '/leads/42'],
    ['POST', '/leads/capture'],
    ['DELETE', '/any/1/deep'],
    ['GET', '/files/a/b.css'],
    ['GET', '/v1/deals/d_1/stage'],
  ]
  for (const [method, path] of requests) {
    const response = await app.handle(new Request(`http://localhost${path}`, { method }))
    const elysia = method === 'HEAD' ? match('GET', path) : await response.text()
    expect(response.status).toBe(200)
    expect(match(method, path)).toBe(elysia)
  }
  expect(match('GET', '/nothing/here')).toBeNull()
  expect(match('POST', '/leads/42')).toBeNull()
})

test('route options survive into the route table: the named form parser and keyFrom', () => {
  const capture = routeTable(app).find((r) => r.path === '/leads/capture')!
  const other = routeTable(app).find((r) => r.path === '/leads/:id')!
  expect(acceptsForms(capture)).toBe(true)
  expect(keySourcesOf(capture)).toEqual(['header', 'query', 'form'])
  expect(acceptsForms(other)).toBe(false)
  expect(keySourcesOf(other)).toBeUndefined()
})

test('two apps in one process share no route options: a keyFrom form route in one does not open the gate of the other', async () => {
  const h = createHarness()
  const build = (formKey: boolean) =>
    new Elysia()
      .use(errors(h.deps))
      .use(bodyParser())
      .use(auth({ ...h.deps, authenticate: keyAuthenticator(h.deps) }))
      .use(formParser)
      .post('/api/v1/form', () => 'reached', formKey ? { parse: FORM_PARSER, keyFrom: ['form'] } : { parse: FORM_PARSER })
  const deferring = build(true)
  const gated = build(false)
  const post = (app: ReturnType<typeof build>) =>
    app.handle(new Request('http://localhost/api/v1/form', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' }))
  expect(await (await post(deferring)).text()).toBe('reached')
  expect((await post(gated)).status).toBe(401)
  expect(await (await post(deferring)).text()).toBe('reached')
  h.close()
})
