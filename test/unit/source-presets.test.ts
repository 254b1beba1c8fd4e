/** The tool presets on each tool's published sample payloads: mapping, signatures, refusals, and that none ever throws. */
import { describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { checkMetadata } from '../../src/lib/metadata'
import { MAX_FORM_FIELDS } from '../../src/plugins/body'
import { PRESETS } from '../../src/modules/sources/presets'
import { MAX_LEADS_PER_REQUEST, SECRET_HEADER } from '../../src/modules/sources/presets/flat'
import { MAX_SIGNATURE_AGE_MS, signedUri } from '../../src/modules/sources/presets/hubspot'
import {
  PRESET_NAMES,
  type LeadDraft,
  type PresetName,
  type PresetAnswer,
  type SourceRequest,
  type SourceSecrets,
} from '../../src/modules/sources/presets/types'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const FIXTURES = join(import.meta.dir, '../fixtures/sources')
const URL = 'https://leads.example.com/api/v1/in/src_0123456789abcdef'
const NOW = 1_717_000_000_000
const NONE: SourceSecrets = { signingSecret: null, verifyToken: null }
/** Test-only secrets, obviously not real ones. */
const SECRET = 'test-signing-secret'
const JSON_TYPE = { 'content-type': 'application/json' }
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' }

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, name)))

function post(body: Uint8Array | string, headers: Record<string, string> = JSON_TYPE, url = URL): SourceRequest {
  return { method: 'POST', url, headers: new Headers(headers), body: typeof body === 'string' ? new TextEncoder().encode(body) : body }
}

function leadsOf(answer: PresetAnswer): LeadDraft[] {
  if (answer.kind !== 'leads') throw new Error(`expected leads, got ${JSON.stringify(answer)}`)
  return answer.leads
}

function onlyLead(answer: PresetAnswer): LeadDraft {
  const leads = leadsOf(answer)
  expect(leads).toHaveLength(1)
  return leads[0]!
}

function expectRefusal(answer: PresetAnswer, status: Extract<PresetAnswer, { kind: 'refuse' }>['status'], detail?: string | RegExp): void {
  expect(answer.kind).toBe('refuse')
  if (answer.kind !== 'refuse') return
  expect(answer.status).toBe(status)
  if (detail !== undefined) expect(answer.detail).toMatch(detail)
}

describe('generic', () => {
  const generic = PRESETS.generic

  test('our own field names, as POST /leads/inbound takes them', () => {
    const lead = onlyLead(generic.handle(post(fixture('generic.json')), NONE, NOW))
    expect(lead).toEqual({
      email: 'jane@example.com',
      phone: '+1234567890',
      firstName: 'Jane',
      lastName: 'Smith',
      source: 'hubspot',
      metadata: { deal_value: 5000 },
    })
  })

  test('unknown fields go to metadata and an explicit metadata object wins per key, as /leads/inbound does', () => {
    const lead = onlyLead(generic.handle(post(JSON.stringify({ email: 'a@example.com', plan: 'pro', tier: 1, metadata: { tier: 2 } })), NONE, NOW))
    expect(lead.metadata).toEqual({ plan: 'pro', tier: 2 })
    expect(lead.source).toBeUndefined()
  })

  test('a urlencoded form with the spellings tools use', () => {
    const body = 'E-mail+Address=ann%40example.com&First+Name=Ann&Surname=Lee&Mobile=%2B44+7700+900000&utm_source=ads&__proto__=kept'
    const lead = onlyLead(generic.handle(post(body, FORM_TYPE), NONE, NOW))
    expect(lead).toMatchObject({ email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee', phone: '+44 7700 900000' })
    expect(Object.entries(lead.metadata)).toEqual([
      ['utm_source', 'ads'],
      ['__proto__', 'kept'],
    ])
  })

  test('the text fields of a multipart form; files are skipped', () => {
    const boundary = '----askadBoundary7MA4YWxk'
    const body = [
      `--${boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\nbo@example.com`,
      `--${boundary}\r\nContent-Disposition: form-data; name="full_name"\r\n\r\nBo Diddley Jr`,
      `--${boundary}\r\nContent-Disposition: form-data; name="cv"; filename="cv.txt"\r\nContent-Type: text/plain\r\n\r\nnot lead data`,
      `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nline one\r\nline two`,
      `--${boundary}--\r\n`,
    ].join('\r\n')
    const lead = onlyLead(generic.handle(post(body, { 'content-type': `multipart/form-data; boundary=${boundary}` }), NONE, NOW))
    expect(lead).toMatchObject({ email: 'bo@example.com', firstName: 'Bo', lastName: 'Diddley Jr', metadata: { note: 'line one\r\nline two' } })
  })

  test('a JSON array is one lead per object', () => {
    const body = JSON.stringify([{ email: 'one@example.com' }, { phone: 5550100, name: 'Two' }])
    const leads = leadsOf(generic.handle(post(body), NONE, NOW))
    expect(leads.map((l) => [l.email, l.phone, l.firstName])).toEqual([
      ['one@example.com', null, null],
      [null, '5550100', 'Two'],
    ])
    expect(leadsOf(generic.handle(post('[]'), NONE, NOW))).toEqual([])
  })

  test('a blank field is absent, a second spelling of a field is kept in metadata', () => {
    const lead = onlyLead(generic.handle(post(JSON.stringify({ email: 'x@example.com', Email: 'y@example.com', phone: '  ' })), NONE, NOW))
    expect(lead).toMatchObject({ email: 'x@example.com', phone: null, metadata: { Email: 'y@example.com' } })
  })

  test('bodies a tool would not send are refused with the status that says why', () => {
    expectRefusal(generic.handle(post(''), NONE, NOW), 400, /empty/)
    expectRefusal(generic.handle(post('{"email":'), NONE, NOW), 400, /not valid JSON/)
    expectRefusal(generic.handle(post('x', { 'content-type': 'text/plain' }), NONE, NOW), 415, /text\/plain/)
    expectRefusal(generic.handle(post('x', {}), NONE, NOW), 415, /\(none\)/)
    for (const body of ['"text"', '42', 'null', '[1]', '[[]]']) expectRefusal(generic.handle(post(body), NONE, NOW), 422)
    expectRefusal(generic.handle(post(JSON.stringify({ email: { a: 1 } })), NONE, NOW), 422, /\/email must be one text value/)
    expectRefusal(generic.handle(post('email=a%40b.c&email=d%40e.f', FORM_TYPE), NONE, NOW), 422, /2 values/)
    expectRefusal(generic.handle({ ...post('{}'), method: 'GET' }, NONE, NOW), 405)
  })

  test('huge bodies are refusals, not work: arrays, form fields, nesting, values', () => {
    const many = JSON.stringify(Array.from({ length: MAX_LEADS_PER_REQUEST + 1 }, () => ({ email: 'a@example.com' })))
    expectRefusal(generic.handle(post(many), NONE, NOW), 422, new RegExp(`at most ${MAX_LEADS_PER_REQUEST}`))
    const fields = Array.from({ length: MAX_FORM_FIELDS + 1 }, (_, i) => `f${i}=1`).join('&')
    expectRefusal(generic.handle(post(fields, FORM_TYPE), NONE, NOW), 422, /fields/)
    const parts = Array.from({ length: MAX_FORM_FIELDS + 1 }, (_, i) => `--b\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\n1\r\n`).join('')
    expectRefusal(generic.handle(post(`${parts}--b--\r\n`, { 'content-type': 'multipart/form-data; boundary=b' }), NONE, NOW), 422, /fields/)
    expectRefusal(generic.handle(post('['.repeat(100_000) + ']'.repeat(100_000)), NONE, NOW), 422, /nested/)
    expectRefusal(generic.handle(post(`[${'{},'.repeat(30_000)}{}]`), NONE, NOW), 422, /values/)
  })

  test('a source with a secret takes only requests that carry it', () => {
    const secrets = { signingSecret: SECRET, verifyToken: null }
    const body = '{"email":"a@example.com"}'
    expectRefusal(generic.handle(post(body), secrets, NOW), 401, new RegExp(`Missing ${SECRET_HEADER}`))
    expectRefusal(generic.handle(post(body, { ...JSON_TYPE, [SECRET_HEADER]: 'wrong' }), secrets, NOW), 401, /does not match/)
    expect(onlyLead(generic.handle(post(body, { ...JSON_TYPE, [SECRET_HEADER]: SECRET }), secrets, NOW)).email).toBe('a@example.com')
  })
})

describe('zapier, make, n8n', () => {
  test("Zapier's form-encoded sample maps its names; other fields stay as sent", () => {
    const lead = onlyLead(PRESETS.zapier.handle(post(fixture('zapier-form.txt'), FORM_TYPE), NONE, NOW))
    expect(lead).toEqual({ email: null, phone: null, firstName: 'Bryan', lastName: 'Helmig', metadata: { age: '27' } })
  })

  test("Zapier's JSON sample keeps a number a number", () => {
    const lead = onlyLead(PRESETS.zapier.handle(post(fixture('zapier-json.json')), NONE, NOW))
    expect(lead).toEqual({ email: null, phone: null, firstName: 'Bryan', lastName: 'Helmig', metadata: { age: 27 } })
  })

  test('a Zapier form post with labelled fields lands as a whole lead', () => {
    const lead = onlyLead(PRESETS.zapier.handle(post(fixture('zapier-lead-form.txt'), FORM_TYPE), NONE, NOW))
    expect(lead).toEqual({ email: 'bryan@example.com', phone: '+1 555 0100', firstName: 'Bryan', lastName: 'Helmig', metadata: { age: '27' } })
  })

  test('Make: capitalised labels and phone_number', () => {
    const lead = onlyLead(PRESETS.make.handle(post(fixture('make-json.json')), NONE, NOW))
    expect(lead).toEqual({
      email: 'maria.garcia@example.com',
      phone: '+34 600 000 000',
      firstName: 'María',
      lastName: 'García',
      metadata: { utm_campaign: 'spring-launch', Company: 'Example SL' },
    })
  })

  test("n8n's Form Trigger output: Name is split into first and last", () => {
    const lead = onlyLead(PRESETS.n8n.handle(post(fixture('n8n-form-trigger.json')), NONE, NOW))
    expect(lead).toEqual({
      email: 'ada@example.com',
      phone: null,
      firstName: 'Ada',
      lastName: 'Lovelace',
      metadata: { Message: 'Please call me back', submittedAt: '2024-06-03T10:12:40.214+02:00', formMode: 'production' },
    })
  })

  test('each checks the shared secret when the source has one', () => {
    for (const name of ['zapier', 'make', 'n8n'] as const) {
      const secrets = { signingSecret: SECRET, verifyToken: null }
      expectRefusal(PRESETS[name].handle(post(fixture('make-json.json')), secrets, NOW), 401, new RegExp(SECRET_HEADER))
      expect(leadsOf(PRESETS[name].handle(post(fixture('make-json.json'), { ...JSON_TYPE, [SECRET_HEADER]: ` ${SECRET} ` }), secrets, NOW))).toHaveLength(1)
    }
  })
})

describe('hubspot', () => {
  const hubspot = PRESETS.hubspot
  const secrets = { signingSecret: SECRET, verifyToken: null }

  function signed(body: Uint8Array, timestamp = NOW, url = URL, secret = SECRET): SourceRequest {
    const text = new TextDecoder().decode(body)
    const signature = createHmac('sha256', secret)
      .update(`POST${signedUri(url)}${text}${timestamp}`)
      .digest('base64')
    return post(body, { ...JSON_TYPE, 'X-HubSpot-Signature-v3': signature, 'X-HubSpot-Request-Timestamp': String(timestamp) }, url)
  }

  test("a workflow's whole contact record: properties unwrapped, record ids kept, histories left out", () => {
    const lead = onlyLead(hubspot.handle(post(fixture('hubspot-workflow-contact.json')), NONE, NOW))
    expect(lead).toMatchObject({ email: 'emailmaria@hubspot.com', phone: null, firstName: 'Maria', lastName: 'Johnson (Sample Contact)' })
    expect(lead.metadata).toEqual({
      lastmodifieddate: '1715361985270',
      company: 'HubSpot',
      vid: 12368139980,
      'canonical-vid': 12368139980,
      'portal-id': 144648450,
      'is-contact': true,
    })
  })

  test("a workflow's customised body of flat properties", () => {
    const lead = onlyLead(hubspot.handle(post(fixture('hubspot-workflow-flat.json')), NONE, NOW))
    expect(lead).toEqual({
      email: 'emailmaria@hubspot.com',
      phone: '+1 555 0100',
      firstName: 'Maria',
      lastName: 'Johnson (Sample Contact)',
      metadata: { company: 'HubSpot', hs_object_id: '12368139980' },
    })
  })

  test('a valid v3 signature is accepted, also within the 5 minutes either way', () => {
    const body = fixture('hubspot-workflow-flat.json')
    for (const timestamp of [NOW, NOW - MAX_SIGNATURE_AGE_MS, NOW + MAX_SIGNATURE_AGE_MS])
      expect(onlyLead(hubspot.handle(signed(body, timestamp), secrets, NOW)).email).toBe('emailmaria@hubspot.com')
  })

  test('the URI is signed with the characters HubSpot decodes', () => {
    const url = `${URL}?campaign=spring%3A2024%2Cemail&x=%25`
    expect(signedUri(url)).toBe(`${URL}?campaign=spring:2024,email&x=%25`)
    expect(leadsOf(hubspot.handle(signed(fixture('hubspot-workflow-flat.json'), NOW, url), secrets, NOW))).toHaveLength(1)
  })

  test('a missing, wrong or stale signature is a 401 naming what is wrong', () => {
    const body = fixture('hubspot-workflow-flat.json')
    expectRefusal(hubspot.handle(post(body), secrets, NOW), 401, /Missing X-HubSpot-Signature-v3/)
    expectRefusal(hubspot.handle(signed(body, NOW, URL, 'another-secret'), secrets, NOW), 401, /does not match/)
    expectRefusal(hubspot.handle(signed(body, NOW - MAX_SIGNATURE_AGE_MS - 1), secrets, NOW), 401, /5 minutes/)
    expectRefusal(hubspot.handle(signed(body, NOW + MAX_SIGNATURE_AGE_MS + 1), secrets, NOW), 401, /5 minutes/)
    const request = signed(body)
    request.headers.delete('X-HubSpot-Request-Timestamp')
    expectRefusal(hubspot.handle(request, secrets, NOW), 401, /X-HubSpot-Request-Timestamp/)
    const tampered = signed(body)
    expectRefusal(hubspot.handle({ ...tampered, body: fixture('hubspot-workflow-contact.json') }, secrets, NOW), 401, /does not match/)
    expectRefusal(hubspot.handle({ ...signed(body), url: `${URL}x` }, secrets, NOW), 401, /does not match/)
  })

  test("without a developer app, the workflow's API-key header carries the secret instead", () => {
    const body = fixture('hubspot-workflow-flat.json')
    expect(leadsOf(hubspot.handle(post(body, { ...JSON_TYPE, [SECRET_HEADER]: SECRET }), secrets, NOW))).toHaveLength(1)
    expectRefusal(hubspot.handle(post(body, { ...JSON_TYPE, [SECRET_HEADER]: 'wrong' }), secrets, NOW), 401, /does not match/)
  })

  test('a record with every property stays within one lead’s metadata bounds, counting what it left out', () => {
    const properties = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`custom_property_${i}`, { value: `value ${i} `.repeat(10) }]))
    const body = JSON.stringify({ vid: 1, properties: { ...properties, email: { value: 'many@example.com' }, empty: { value: '' } } })
    const lead = onlyLead(hubspot.handle(post(body), NONE, NOW))
    expect(lead.email).toBe('many@example.com')
    expect(() => checkMetadata(lead.metadata)).not.toThrow()
    expect(lead.metadata.hubspot_dropped_fields).toBeGreaterThan(300)
    expect(lead.metadata.custom_property_0).toBeDefined()
    expect(lead.metadata.empty).toBeUndefined()
  })

  test('a trimmed record still keeps its own ids (vid, portal-id), which link the lead back to the HubSpot contact', () => {
    const properties = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`prop_${i}`, { value: `v${i}` }]))
    const body = JSON.stringify({ vid: 1001, 'portal-id': 62515, properties: { email: { value: 'big@example.com' }, ...properties } })
    const lead = onlyLead(hubspot.handle(post(body), NONE, NOW))
    expect(lead.metadata).toMatchObject({ vid: 1001, 'portal-id': 62515, prop_0: 'v0' })
    expect(lead.metadata.hubspot_dropped_fields).toBe(150 + 2 - 99)
  })

  test('app webhook events and non-JSON bodies are refused', () => {
    const events = JSON.stringify([{ eventId: 1, subscriptionId: 12345, portalId: 62515, subscriptionType: 'contact.creation', objectId: 123 }])
    expectRefusal(hubspot.handle(post(events), NONE, NOW), 422, /workflow/)
    expectRefusal(hubspot.handle(post('email=a%40b.c', FORM_TYPE), NONE, NOW), 415)
    expectRefusal(hubspot.handle(post('"x"'), NONE, NOW), 422)
  })
})

describe('typeform', () => {
  const typeform = PRESETS.typeform
  const secrets = { signingSecret: SECRET, verifyToken: null }
  const sign = (body: Uint8Array, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('base64')}`

  test("Typeform's example payload: email and first name found by type and title, every other answer by its ref", () => {
    const lead = onlyLead(typeform.handle(post(fixture('typeform-example.json')), NONE, NOW))
    expect(lead).toMatchObject({ email: 'laura@example.com', phone: null, firstName: 'Laura', lastName: null })
    expect(lead.metadata).toMatchObject({
      readable_ref_long_text: "It's cold right now! I live in an older medium-sized city with a university. Geographically, the area is hilly.",
      readable_ref_date: '2005-10-15',
      readable_ref_picture_choice: ['London', 'Sydney'],
      readable_ref_multiple_choice: 'London',
      readable_ref_legal: true,
      readable_ref_yes_no: false,
      readable_ref_calendly: 'https://calendly.com/scheduled_events/EVENT_TYPE/invitees/INVITEE',
      hidden: { user_id: 'abc123456' },
      variables: { score: 4, name: 'typeform' },
      score: 9,
      form_id: 'lT4Z3j',
      response_token: 'a3a12ec67a1365927098a606107fac15',
      submitted_at: '2018-01-18T18:17:02Z',
    })
    expect(lead.metadata.readable_ref_email).toBeUndefined()
    expect(lead.metadata.readable_ref_short_text).toBeUndefined()
  })

  test('a phone answer, and a "your name" question split into first and last', () => {
    const body = JSON.stringify({
      event_type: 'form_response',
      form_response: {
        definition: { fields: [{ id: 'n', title: 'What is your name?', type: 'short_text', ref: 'q1' }] },
        answers: [
          { type: 'text', text: 'Grace Brewster Hopper', field: { id: 'n', type: 'short_text' } },
          { type: 'phone_number', phone_number: '+15550100', field: { id: 'p', type: 'phone_number', ref: 'phone' } },
        ],
      },
    })
    expect(onlyLead(typeform.handle(post(body), NONE, NOW))).toMatchObject({ phone: '+15550100', firstName: 'Grace', lastName: 'Brewster Hopper' })
  })

  test('a valid signature is accepted; missing or wrong is a 401 naming the header', () => {
    const body = fixture('typeform-example.json')
    expect(onlyLead(typeform.handle(post(body, { ...JSON_TYPE, 'Typeform-Signature': sign(body) }), secrets, NOW)).email).toBe('laura@example.com')
    expectRefusal(typeform.handle(post(body), secrets, NOW), 401, /Missing Typeform-Signature/)
    expectRefusal(typeform.handle(post(body, { ...JSON_TYPE, 'Typeform-Signature': sign(body, 'other') }), secrets, NOW), 401, /Typeform-Signature/)
    const other = fixture('zapier-json.json')
    expectRefusal(typeform.handle(post(body, { ...JSON_TYPE, 'Typeform-Signature': sign(other) }), secrets, NOW), 401)
  })

  test('partial responses are acknowledged with no lead; other bodies are refused', () => {
    expect(leadsOf(typeform.handle(post('{"event_type":"form_response_partial","form_response":{}}'), NONE, NOW))).toEqual([])
    expectRefusal(typeform.handle(post('{"event_type":"form_response"}'), NONE, NOW), 422, /form_response/)
    expectRefusal(typeform.handle(post('{"form_response":{"answers":[1]}}'), NONE, NOW), 422)
  })
})

describe('facebook', () => {
  const facebook = PRESETS.facebook
  const secrets = { signingSecret: SECRET, verifyToken: 'meatyhamhock' }
  const sign = (body: Uint8Array, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
  const verifyUrl = `${URL}?${new TextDecoder().decode(fixture('facebook-verify-query.txt'))}`
  const get = (url: string): SourceRequest => ({ method: 'GET', url, headers: new Headers(), body: new Uint8Array() })

  test("the subscription handshake echoes Facebook's challenge as text", () => {
    expect(facebook.handle(get(verifyUrl), secrets, NOW)).toEqual({ kind: 'reply', status: 200, contentType: 'text/plain', body: '1158201444' })
    expectRefusal(facebook.handle(get(verifyUrl), { ...secrets, verifyToken: 'another-token' }, NOW), 403, /verify_token/)
    expectRefusal(facebook.handle(get(verifyUrl), { ...secrets, verifyToken: null }, NOW), 403)
    expectRefusal(facebook.handle(get(URL), secrets, NOW), 400, /hub.mode/)
  })

  test('a signed leadgen notification asks for the lead to be fetched', () => {
    const body = fixture('facebook-leadgen.json')
    expect(facebook.handle(post(body, { ...JSON_TYPE, 'X-Hub-Signature-256': sign(body) }), secrets, NOW)).toEqual({ kind: 'fetch', ids: ['123123123123'] })
  })

  test('ids written as JSON numbers beyond 2^53 keep every digit', () => {
    const body = fixture('facebook-leadgen-long-ids.json')
    expect(facebook.handle(post(body, { ...JSON_TYPE, 'X-Hub-Signature-256': sign(body) }), secrets, NOW)).toEqual({
      kind: 'fetch',
      ids: ['55459717045641545'],
    })
  })

  test('a missing or wrong signature is a 401 naming the header', () => {
    const body = fixture('facebook-leadgen.json')
    expectRefusal(facebook.handle(post(body), secrets, NOW), 401, /Missing X-Hub-Signature-256/)
    expectRefusal(facebook.handle(post(body, { ...JSON_TYPE, 'X-Hub-Signature-256': sign(body, 'other') }), secrets, NOW), 401, /X-Hub-Signature-256/)
    expectRefusal(facebook.handle(post(body, { ...JSON_TYPE, 'X-Hub-Signature-256': sign(body) }), { ...secrets, signingSecret: null }, NOW), 401)
  })

  test('a Graph API lead record maps to a lead; the rest of the form goes to metadata', () => {
    const record = JSON.parse(new TextDecoder().decode(fixture('facebook-lead.json')))
    expect(facebook.mapFetched!(record)).toEqual({
      email: 'james.oak@example.org',
      phone: null,
      firstName: 'James',
      lastName: 'Oak',
      metadata: {
        date_of_birth: 'April 19, 1987',
        gender: 'male',
        created_time: '2015-11-12T15:27:06+0000',
        facebook_lead_id: '555971704561545',
        is_tcpa_compliant: false,
      },
    })
    expect(facebook.mapFetched!({ id: '1' })).toBeNull()
    expect(facebook.mapFetched!('nonsense')).toBeNull()
  })

  test('a POST that already carries field_data is mapped directly', () => {
    const body = fixture('facebook-lead.json')
    const lead = onlyLead(facebook.handle(post(body, { ...JSON_TYPE, 'X-Hub-Signature-256': sign(body) }), secrets, NOW))
    expect(lead).toMatchObject({ email: 'james.oak@example.org', firstName: 'James', lastName: 'Oak' })
  })

  test('changes to other Page fields are acknowledged with nothing to store', () => {
    const body = new TextEncoder().encode('{"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"feed","value":{"item":"post"}}]}]}')
    expect(leadsOf(facebook.handle(post(body, { ...JSON_TYPE, 'X-Hub-Signature-256': sign(body) }), secrets, NOW))).toEqual([])
  })
})

describe('no preset ever throws', () => {
  const CONTENT_TYPES = [
    'application/json',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=b',
    'multipart/form-data',
    'text/plain',
    'application/merge-patch+json',
  ]
  const SIGNATURE_HEADERS = [SECRET_HEADER, 'X-HubSpot-Signature-v3', 'X-HubSpot-Request-Timestamp', 'Typeform-Signature', 'X-Hub-Signature-256']
  const text = fc.oneof(
    fc.string(),
    fc.json(),
    fc.constantFrom(
      ...['generic.json', 'typeform-example.json', 'facebook-leadgen.json', 'hubspot-workflow-contact.json'].map((f) =>
        readFileSync(join(FIXTURES, f), 'utf8'),
      ),
    ),
    fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 20 }).map((pairs) => new URLSearchParams(pairs).toString()),
    fc
      .array(fc.tuple(fc.string(), fc.string()), { maxLength: 10 })
      .map((parts) => `${parts.map(([name, value]) => `--b\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`).join('')}--b--`),
  )
  const request: fc.Arbitrary<SourceRequest> = fc.record({
    method: fc.constantFrom('GET' as const, 'POST' as const),
    url: fc.oneof(
      fc.constant(URL),
      fc.string().map((q) => `${URL}?${q}`),
      fc.string(),
    ),
    headers: fc
      .tuple(fc.option(fc.oneof(fc.constantFrom(...CONTENT_TYPES), fc.string())), fc.array(fc.tuple(fc.constantFrom(...SIGNATURE_HEADERS), fc.string())))
      .map(([type, pairs]) => {
        const headers = new Headers()
        if (type !== null) headers.set('content-type', type.replace(/[\r\n\0]/g, ''))
        for (const [name, value] of pairs) headers.set(name, value.replace(/[\r\n\0]/g, '').trim())
        return headers
      }),
    body: fc.oneof(
      text.map((t) => new TextEncoder().encode(t)),
      fc.uint8Array({ maxLength: 256 }),
    ),
  })
  const secrets: fc.Arbitrary<SourceSecrets> = fc.record({ signingSecret: fc.option(fc.string()), verifyToken: fc.option(fc.string()) })

  /** Every path into a JSON value, the root included. */
  function pathsOf(value: unknown, prefix: string[] = []): string[][] {
    if (typeof value !== 'object' || value === null) return [prefix]
    return [prefix, ...Object.keys(value).flatMap((key) => pathsOf((value as Record<string, unknown>)[key], [...prefix, key]))]
  }

  function replaceAt(document: unknown, path: string[], replacement: unknown): unknown {
    if (path.length === 0) return replacement
    if (typeof document !== 'object' || document === null) return document
    const copy = structuredClone(document) as Record<string, unknown>
    let parent = copy
    for (const key of path.slice(0, -1)) {
      if (typeof parent[key] !== 'object' || parent[key] === null) return copy
      parent = parent[key] as Record<string, unknown>
    }
    parent[path.at(-1)!] = replacement
    return copy
  }

  /** The JSON samples a preset reads: its own tool's, and the flat ones for the flat-field presets. */
  function samplesFor(name: PresetName): unknown[] {
    const prefix = ['hubspot', 'typeform', 'facebook'].includes(name) ? name : null
    return readdirSync(FIXTURES)
      .filter((file) => file.endsWith('.json') && (prefix ? file.startsWith(prefix) : !/^(hubspot|typeform|facebook)/.test(file)))
      .map((file) => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as unknown)
  }

  /** A preset's samples with one to three parts replaced by any JSON: the shapes it reads, subtly wrong. */
  const mutatedSample = (name: PresetName) =>
    fc.constantFrom(...samplesFor(name)).chain((document) => {
      const mutation = fc.tuple(fc.constantFrom(...pathsOf(document)), fc.jsonValue())
      return fc
        .array(mutation, { minLength: 1, maxLength: 3 })
        .map((mutations) => mutations.reduce((doc, [path, value]) => replaceAt(doc, path, value), document))
    })

  /** A POST that passes the signature check (signed with SECRET where the preset requires one), carrying a mutated sample. */
  const wellFormed = (name: PresetName): fc.Arbitrary<[SourceRequest, SourceSecrets]> =>
    mutatedSample(name).map((document) => {
      const body = new TextEncoder().encode(JSON.stringify(document))
      if (name !== 'facebook') return [post(body), NONE]
      const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`
      return [post(body, { ...JSON_TYPE, 'X-Hub-Signature-256': signature }), { signingSecret: SECRET, verifyToken: null }]
    })

  for (const name of PRESET_NAMES) {
    test(`${name}: every request gets an answer`, () => {
      fc.assert(
        fc.property(request, secrets, fc.integer({ min: 0, max: 2 ** 45 }), (req, sec, now) => {
          const answer = PRESETS[name].handle(req, sec, now)
          expect(['leads', 'fetch', 'reply', 'refuse']).toContain(answer.kind)
          if (answer.kind === 'refuse') expect([400, 401, 403, 405, 415, 422]).toContain(answer.status)
          if (answer.kind === 'leads') for (const lead of answer.leads) expect(typeof lead.metadata).toBe('object')
        }),
        { numRuns: 400, seed: 20261202 },
      )
    })

    test(`${name}: every mutation of a sample payload gets an answer`, () => {
      fc.assert(
        fc.property(wellFormed(name), ([req, sec]) => {
          const answer = PRESETS[name].handle(req, sec, NOW)
          expect(['leads', 'fetch', 'refuse']).toContain(answer.kind)
          if (answer.kind === 'refuse') expect([400, 415, 422]).toContain(answer.status)
        }),
        { numRuns: 400, seed: 20261202 },
      )
    })
  }

  test('facebook: mapFetched takes anything', () => {
    fc.assert(
      fc.property(fc.anything(), fc.array(fc.record({ name: fc.string(), values: fc.array(fc.anything(), { maxLength: 3 }) })), (junk, fieldData) => {
        expect(() => PRESETS.facebook.mapFetched!(junk)).not.toThrow()
        expect(() => PRESETS.facebook.mapFetched!({ id: '1', field_data: fieldData })).not.toThrow()
      }),
      { numRuns: 200, seed: 20261202 },
    )
  })
})
