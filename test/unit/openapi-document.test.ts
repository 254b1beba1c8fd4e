/**
 * The document's machinery on a small app, as a route added later meets it: named schemas become
 * `$ref`s (one name, one schema), Elysia's numeric unions become numbers, query integers are
 * documented as integers, and headers follow the route's shape.
 */
import { describe, expect, test } from 'bun:test'
import { Elysia, t } from 'elysia'
import { problems } from '../../src/errors/openapi'
import { component, queryInteger } from '../../src/lib/model-fields'
import { pageSchema } from '../../src/lib/pagination'
import { openApiDocument, type RouteInfo } from '../../src/plugins/openapi-document'
import { useTestTimeout } from '../timeout'

useTestTimeout()

type Json = Record<string, any>

const routesOf = (app: unknown) => (app as { getGlobalRoutes(): RouteInfo[] }).getGlobalRoutes()

const Widget = component('Widget', t.Object({ id: t.String(), count: t.Integer({ minimum: 0 }) }))

const app = new Elysia({ prefix: '/api/v1', tags: ['Widgets'] })
  .get('/widgets', () => ({ data: [], pagination: { page: 1, limit: 50, total: 0, has_more: false, next_cursor: null } }), {
    query: t.Object({ limit: queryInteger({ minimum: 1, maximum: 10, default: 5, description: 'How many.' }) }),
    response: { 200: pageSchema(Widget), ...problems(401) },
    detail: { operationId: 'listWidgets', summary: 'List widgets', description: 'All of them.' },
  })
  .post('/widgets', () => ({ id: 'w', count: 1 }), {
    body: t.Object({ name: t.String() }, { examples: [{ name: 'a' }] }),
    response: { 201: Widget, ...problems(401, 422) },
    detail: { operationId: 'createWidget', summary: 'Create a widget', description: 'One more.' },
  })

describe('openApiDocument', () => {
  const doc = openApiDocument(routesOf(app), 'Intro.')

  test('a named schema is one component, referred to wherever it appears; its list is named after it', () => {
    expect(doc.components.schemas.Widget).toMatchObject({ type: 'object', properties: { id: { type: 'string' } } })
    expect(doc.paths['/api/v1/widgets'].post.responses['201'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Widget' })
    expect(doc.components.schemas.WidgetList.properties.data.items).toEqual({ $ref: '#/components/schemas/Widget' })
  })

  test("Elysia's integer (a string-or-integer union) is documented as an integer, its bounds kept", () => {
    expect(doc.components.schemas.Widget.properties.count).toEqual({ type: 'integer', minimum: 0 })
    const limit = (doc.paths['/api/v1/widgets'].get.parameters as Json[]).find((p) => p.name === 'limit')!
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 10, default: 5 })
    expect(limit.example).toBe(5)
  })

  test("a new route gets its declared operationId, its module's tag, and the headers its shape implies", () => {
    const list = doc.paths['/api/v1/widgets'].get
    const create = doc.paths['/api/v1/widgets'].post
    expect([list.operationId, create.operationId]).toEqual(['listWidgets', 'createWidget'])
    expect(doc.tags).toEqual([{ name: 'Widgets' }])
    expect(Object.keys(list.responses['200'].headers)).toContain('Link')
    expect(Object.keys(create.responses['201'].headers)).toEqual(expect.arrayContaining(['Location', 'Idempotent-Replayed']))
    expect(Object.keys(list.responses['401'].headers)).toContain('WWW-Authenticate')
    expect(create.responses['422'].content['application/problem+json'].examples.validation_failed).toEqual({ $ref: '#/components/examples/validation_failed' })
    expect(doc.components.examples.validation_failed.value.errors).toEqual([{ path: '/name', message: expect.any(String) }])
  })

  test('two different schemas under one name fail loudly instead of one silently replacing the other', () => {
    const clash = new Elysia().get('/a', () => ({ other: 'a' }), {
      response: component('Widget', t.Object({ other: t.String() })),
      detail: { operationId: 'getA', summary: 'A', description: 'A.' },
    })
    expect(() => openApiDocument([...routesOf(app), ...routesOf(clash)], '')).toThrow("Two different schemas are named 'Widget'")
  })
})
