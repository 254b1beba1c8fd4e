/** The dashboard's search box, CSV export links and downloads; on both engines. */
import { afterAll, describe, expect, test } from 'bun:test'
import { WITHHELD_FILTER } from '../../src/modules/contacts/service'
import { createLead } from '../../src/modules/leads/service'
import { createHarness } from '../helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

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
  // The workspace's pages live under /dashboard/w/<slug>; /dashboard itself redirects there.
  const base = (await h.request('GET', '/dashboard', { headers: { cookie } })).headers.get('location')!
  return { cookie, base, get: (path: string) => h.request('GET', `${base}${path}`, { headers: { cookie } }) }
}

describe('contacts and leads pages', async () => {
  const ws = await h.workspace()
  await createLead(h.deps, ws.id, 'inbound', { email: 'jane@example.com', firstName: 'Jane', lastName: 'Smith', source: 'crm', metadata: {} })
  await createLead(h.deps, ws.id, 'inbound', { email: 'bob@example.com', firstName: 'Bob', source: 'web', metadata: {} })

  test('the search box finds by name, and the export link carries the filters on screen', async () => {
    const s = await signIn(ws.key)
    const page = await (await s.get('/contacts?q=smi&email=&source=crm')).text()
    expect(page).toContain('name="q"')
    expect(page).toContain('value="smi"')
    expect(page).toContain('jane@example.com')
    expect(page).not.toContain('bob@example.com')
    expect(page).toContain(`href="${s.base}/contacts.csv?q=smi&amp;source=crm" download>Export CSV</a>`)
  })

  test('the download is the same CSV as the API, filtered, and recorded as the signed-in key', async () => {
    const s = await signIn(ws.key)
    const res = await s.get('/contacts.csv?q=smi')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    const lines = (await res.text()).split('\r\n')
    expect(lines).toHaveLength(3)
    expect(lines[1]).toContain(',jane@example.com,')
    const audit = await (await h.request('GET', '/api/v1/audit-log?action=contacts.exported', { key: ws.key })).json()
    expect(audit.data[0].details).toEqual({ filters: { q: WITHHELD_FILTER } })
  })

  test('leads: the link and the download follow the status and source filters', async () => {
    const s = await signIn(ws.key)
    const page = await (await s.get('/leads?source=web&status=')).text()
    expect(page).toContain(`href="${s.base}/leads.csv?source=web" download>Export CSV</a>`)
    const csv = await (await s.get('/leads.csv?source=web')).text()
    expect(csv.split('\r\n').filter(Boolean)).toHaveLength(2)
    expect(csv).toContain('bob@example.com')
  })

  test('bad filters are an error page; without a session it is the sign-in', async () => {
    const s = await signIn(ws.key)
    const bad = await s.get('/leads.csv?status=lost')
    expect(bad.status).toBe(422)
    expect(await bad.text()).toContain('must be one of')
    const anonymous = await h.request('GET', `${s.base}/contacts.csv`)
    expect(anonymous.status).toBe(303)
  })
})

describe('import page', async () => {
  const ws = await h.workspace()

  /** The upload form's post: multipart with the file, as a browser sends it. */
  async function upload(base: string, cookie: string, csv: string, fields: Record<string, string>) {
    const form = new FormData()
    for (const [name, value] of Object.entries(fields)) form.append(name, value)
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'people.csv')
    return h.request('POST', `${base}/contacts/import`, { rawBody: form, headers: { cookie, origin: ORIGIN } })
  }

  test('the form, a dry run that stores nothing, then the import and its report', async () => {
    const s = await signIn(ws.key)
    const formPage = await (await s.get('/contacts/import')).text()
    expect(formPage).toContain('enctype="multipart/form-data" data-upload')
    expect(formPage).toContain('name="column_email"')
    const csrf = /name="_csrf" value="([^"]+)"/.exec(formPage)![1]!
    const csv = 'E-mail,Name\nann@example.com,Ann\nnope,Bad\n'
    const dry = await upload(s.base, s.cookie, csv, { _csrf: csrf, dry_run: 'true', column_email: 'E-mail', column_first_name: 'Name' })
    expect(dry.status).toBe(200)
    const dryPage = await dry.text()
    expect(dryPage).toContain('Dry run: nothing was stored. 2 rows read, 1 would be imported, 1 failed.')
    expect(dryPage).toContain('is not an email address')
    expect(await h.rows.count('contacts', { workspaceId: ws.id })).toBe(0)
    const done = await (await upload(s.base, s.cookie, csv, { _csrf: csrf, column_email: 'E-mail', column_first_name: 'Name' })).text()
    expect(done).toContain('1 new contacts')
    const [contact] = await h.rows.all('contacts', { workspaceId: ws.id })
    expect(contact).toMatchObject({ email: 'ann@example.com', firstName: 'Ann', firstSource: 'import' })
  })

  test('without a session or CSRF token nothing is read or stored; a bad file is an error page', async () => {
    const s = await signIn(ws.key)
    const anonymous = await upload(s.base, '', 'email\nx@example.com\n', {})
    expect(anonymous.status).toBe(403)
    expect((await upload(s.base, s.cookie, 'email\nx@example.com\n', { _csrf: 'wrong' })).status).toBe(403)
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await (await s.get('/contacts/import')).text())![1]!
    const bad = await upload(s.base, s.cookie, 'name\nann\n', { _csrf: csrf })
    expect(bad.status).toBe(422)
    expect(await bad.text()).toContain('needs an email or a phone column')
    expect(await h.rows.count('contacts', { workspaceId: ws.id, email: 'x@example.com' })).toBe(0)
  })
})
