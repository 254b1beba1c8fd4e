/** The dashboard's search box, CSV export links and downloads; on both engines. */
import { afterAll, describe, expect, test } from 'bun:test'
import { createLead } from '../../src/modules/leads/service'
import { createHarness } from '../helpers'

const ORIGIN = 'http://localhost'
const h = createHarness()
afterAll(() => h.close())

/** A signed-in session: `get` a path with its cookie. */
async function signIn(key: string) {
  const res = await h.request('POST', '/dashboard/sign-in', {
    rawBody: new URLSearchParams({ key, next: '/dashboard' }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN },
  })
  expect(res.status).toBe(303)
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!
  return { cookie, get: (path: string) => h.request('GET', path, { headers: { cookie } }) }
}

describe('contacts and leads pages', async () => {
  const ws = await h.workspace()
  await createLead(h.deps, ws.id, 'inbound', { email: 'jane@example.com', firstName: 'Jane', lastName: 'Smith', source: 'crm', metadata: {} })
  await createLead(h.deps, ws.id, 'inbound', { email: 'bob@example.com', firstName: 'Bob', source: 'web', metadata: {} })

  test('the search box finds by name, and the export link carries the filters on screen', async () => {
    const s = await signIn(ws.key)
    const page = await (await s.get('/dashboard/contacts?q=smi&email=&source=crm')).text()
    expect(page).toContain('name="q"')
    expect(page).toContain('value="smi"')
    expect(page).toContain('jane@example.com')
    expect(page).not.toContain('bob@example.com')
    expect(page).toContain('href="/dashboard/contacts.csv?q=smi&amp;source=crm" download>Export CSV</a>')
  })

  test('the download is the same CSV as the API, filtered, and recorded as the signed-in key', async () => {
    const s = await signIn(ws.key)
    const res = await s.get('/dashboard/contacts.csv?q=smi')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    const lines = (await res.text()).split('\r\n')
    expect(lines).toHaveLength(3)
    expect(lines[1]).toContain(',jane@example.com,')
    const audit = await (await h.request('GET', '/api/v1/audit-log?action=contacts.exported', { key: ws.key })).json()
    expect(audit.data[0].details).toEqual({ filters: { q: 'smi' } })
  })

  test('leads: the link and the download follow the status and source filters', async () => {
    const s = await signIn(ws.key)
    const page = await (await s.get('/dashboard/leads?source=web&status=')).text()
    expect(page).toContain('href="/dashboard/leads.csv?source=web" download>Export CSV</a>')
    const csv = await (await s.get('/dashboard/leads.csv?source=web')).text()
    expect(csv.split('\r\n').filter(Boolean)).toHaveLength(2)
    expect(csv).toContain('bob@example.com')
  })

  test('bad filters are an error page; without a session it is the sign-in', async () => {
    const s = await signIn(ws.key)
    const bad = await s.get('/dashboard/leads.csv?status=lost')
    expect(bad.status).toBe(422)
    expect(await bad.text()).toContain('must be one of')
    const anonymous = await h.request('GET', '/dashboard/contacts.csv')
    expect(anonymous.status).toBe(303)
  })
})
