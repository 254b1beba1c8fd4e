/** The framework internals the OpenAPI assembly uses still behave as plugins/openapi-adapter.ts expects. */
import { expect, test } from 'bun:test'
import { Elysia, t } from 'elysia'
import { isOptionalSchema, swaggerPaths, type WalkableRoute } from '../../src/plugins/openapi-adapter'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const app = new Elysia()
  .post('/things/:id', ({ body }) => body, {
    params: t.Object({ id: t.String() }),
    body: t.Object({ name: t.String() }),
    response: { 201: t.Object({ id: t.String() }) },
    detail: { summary: 'Make a thing' },
  })
  .post('/maybe', () => 'ok', { body: t.Optional(t.Object({ note: t.String() })) })
const routes = (app as unknown as { getGlobalRoutes(): WalkableRoute[] }).getGlobalRoutes()

test('@elysiajs/swagger walks routes into OpenAPI paths with {params}, bodies and responses', () => {
  const paths = swaggerPaths(routes, {})
  const op = paths['/things/{id}']?.post
  expect(op).toBeDefined()
  expect(op.summary).toBe('Make a thing')
  expect(op.parameters).toContainEqual(expect.objectContaining({ name: 'id', in: 'path', required: true }))
  expect(op.requestBody.content['application/json'].schema.properties.name.type).toBe('string')
  expect(op.responses['201'].content['application/json'].schema.properties.id.type).toBe('string')
})

test('TypeBox marks t.Optional bodies with the symbol the adapter reads', () => {
  const byPath = new Map(routes.map((r) => [r.path, r]))
  expect(isOptionalSchema(byPath.get('/maybe')!.hooks?.body)).toBe(true)
  expect(isOptionalSchema(byPath.get('/things/:id')!.hooks?.body)).toBe(false)
})
