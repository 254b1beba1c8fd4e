/** Text hygiene at the edges: control characters refused in short text fields, text stored as NFC, impossible dates refused. */
import { afterAll, describe, expect, test } from 'bun:test'
import { parseTimestamp } from '../../src/lib/clock'
import { createHarness, expectProblem } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const h = createHarness()
afterAll(() => h.close())
const ws = await h.workspace()

describe('control characters', () => {
  for (const [field, value] of [
    ['email', 'a\u0000b@example.com'],
    ['first_name', 'Ja\u0000ne'],
    ['last_name', 'Smith\u001b[31m'],
    ['phone', '+1 234\u0000567'],
    ['source', 'crm\nadmin'],
  ] as const) {
    test(`a lead with a control character in ${field} is 422 at /${field}`, async () => {
      const body: Record<string, unknown> = { email: 'ok@example.com', [field]: value }
      await expectProblem(await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body }), 422, [`/${field}`])
    })
  }

  test('capture refuses them too, also in form posts', async () => {
    const pk = (await h.key(ws.id, { kind: 'publishable', allowedOrigins: ['https://shop.example'] })).key
    const res = await h.request('POST', '/api/v1/leads/capture', {
      key: pk,
      rawBody: new URLSearchParams({ email: 'form@example.com', name: 'Jane\u0000Doe' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    await expectProblem(res, 422, ['/name'])
  })

  test('PATCH /contacts/:id refuses them', async () => {
    const { contact_id } = await h.pushLead(ws.key, { email: 'patch-ctl@example.com' })
    const res = await h.request('PATCH', `/api/v1/contacts/${contact_id}`, { key: ws.key, body: { first_name: 'A\u0007' } })
    await expectProblem(res, 422, ['/first_name'])
  })

  test('an API key name refuses them (API and everything else minting through the service)', async () => {
    await expectProblem(await h.request('POST', '/api/v1/api-keys', { key: ws.key, body: { kind: 'secret', name: 'CRM\r\nsync' } }), 422, ['/name'])
  })
})

describe('NFC', () => {
  test('names and emails are stored in NFC, so a decomposed é matches the composed one', async () => {
    const decomposed = 'Rene\u0301'
    const { contact_id } = await h.pushLead(ws.key, { email: 'rene\u0301@example.com', first_name: decomposed })
    const again = await h.pushLead(ws.key, { email: 'ren\u00e9@example.com' })
    expect(again.contact_id).toBe(contact_id)
    const contact = await (await h.request('GET', `/api/v1/contacts/${contact_id}`, { key: ws.key })).json()
    expect(contact.first_name).toBe('Ren\u00e9')
    expect(contact.email).toBe('ren\u00e9@example.com')
  })
})

describe('dates', () => {
  test('impossible calendar dates are refused by parseTimestamp', () => {
    for (const value of ['2026-02-30', '2026-02-29T00:00:00Z', '2026-04-31', '2026-13-01', '2026-00-10', '2026-01-01T24:30:00Z', '2026-01-01T10:61:00Z']) {
      expect(() => parseTimestamp(value, 'query.x')).toThrow()
    }
    expect(parseTimestamp('2028-02-29', 'x')).toBe(Date.parse('2028-02-29T00:00:00Z'))
    expect(parseTimestamp('2026-01-31T23:59:59.5+02:00', 'x')).toBe(Date.parse('2026-01-31T21:59:59.5Z'))
  })

  test('GET /contacts?updated_since=2026-02-30 is 422 at query.updated_since', async () => {
    await expectProblem(await h.request('GET', '/api/v1/contacts?updated_since=2026-02-30', { key: ws.key }), 422, ['query.updated_since'])
    await expectProblem(await h.request('GET', '/api/v1/leads?created_since=2026-04-31T00:00:00Z', { key: ws.key }), 422, ['query.created_since'])
  })
})

describe('what the red team slipped past the first rule', () => {
  for (const [name, value] of [
    ['C1 NEL', 'Jane\u0085Doe'],
    ['line separator', 'Jane\u2028Doe'],
    ['paragraph separator', 'Jane\u2029Doe'],
    ['right-to-left override', 'Jane\u202eeoD'],
    ['isolate', 'Jane\u2066Doe'],
    ['lone surrogate', 'Jane\udfffDoe'],
  ] as const) {
    test(`a ${name} in a name is 422, and nothing is stored`, async () => {
      const email = `rt-${crypto.randomUUID()}@example.com`
      await expectProblem(await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email, first_name: value } }), 422, ['/first_name'])
      expect(await h.rows.count('contacts', { email })).toBe(0)
    })
  }

  test('a blank source is 422, webhook descriptions and campaign names follow the rule too', async () => {
    await expectProblem(await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'blank-source@example.com', source: '  ' } }), 422, [
      '/source',
    ])
    const lan = createHarness({ env: { ASKAD_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } })
    try {
      const own = await lan.workspace()
      const res = await lan.request('POST', '/api/v1/webhooks', { key: own.key, body: { url: 'http://127.0.0.1:9/x', description: 'a\u0000b' } })
      await expectProblem(res, 422, ['/description'])
    } finally {
      lan.close()
    }
    await expectProblem(await h.request('POST', '/api/v1/campaigns', { key: ws.key, body: { name: 'Spring\u202e', currency: 'EUR' } }), 422, ['/name'])
  })
})

describe('times without an offset', () => {
  test('are UTC like bare dates, whatever the server time zone; years before 100 are real years', () => {
    expect(parseTimestamp('2030-01-01T00:00', '/x')).toBe(Date.UTC(2030, 0, 1))
    expect(parseTimestamp('2030-01-01 12:30:15.250', '/x')).toBe(Date.UTC(2030, 0, 1, 12, 30, 15, 250))
    expect(parseTimestamp('2030-01-01T00:00+02:00', '/x')).toBe(Date.UTC(2029, 11, 31, 22))
    expect(new Date(parseTimestamp('0050-03-01', '/x')).toISOString()).toBe('0050-03-01T00:00:00.000Z')
    expect(() => parseTimestamp('2030-01-01T00:00+24:00', '/x')).toThrow()
  })
})
