/** The toResponse adapter must produce what Elysia itself sends for the same return value. */
import { expect, test } from 'bun:test'
import { Elysia, status, type Context } from 'elysia'
import { toResponse } from '../../src/plugins/elysia-response'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const cases: { name: string; run: (set: Context['set']) => unknown }[] = [
  { name: 'an object', run: () => ({ id: 'lead_1', status: 'created' }) },
  { name: 'an array', run: () => [1, 2, 3] },
  { name: 'a string', run: () => 'plain text' },
  { name: 'an object with set.status', run: (set) => ((set.status = 201), { id: 'x' }) },
  { name: 'a named set.status', run: (set) => ((set.status = 'Accepted'), { ok: true }) },
  { name: 'a string with a content type', run: (set) => ((set.headers['content-type'] = 'text/html; charset=utf-8'), '<p>hi</p>') },
  { name: 'status()', run: () => status(202, { queued: true }) },
]

for (const { name, run } of cases) {
  test(`toResponse matches Elysia for ${name}`, async () => {
    let ours: Response | undefined
    const app = new Elysia().get('/', ({ set }) => {
      const value = run(set)
      ours = toResponse(value, { ...set, headers: { ...set.headers } })
      return value
    })
    const theirs = await app.handle(new Request('http://localhost/'))
    expect(ours!.status).toBe(theirs.status)
    // For a bare string Elysia leaves the type to the runtime (Bun's text/plain), which the adapter names itself.
    const expected = theirs.headers.get('content-type') ?? (typeof run({ headers: {} } as Context['set']) === 'string' ? 'text/plain;charset=utf-8' : null)
    expect(ours!.headers.get('content-type')).toBe(expected)
    expect(await ours!.text()).toBe(await theirs.text())
  })
}
