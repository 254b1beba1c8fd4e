/** A signed-in dashboard session for HTTP tests: form posts with the session's CSRF token, and pages as text. */
import type { Harness } from './helpers'

const ORIGIN = 'http://localhost'

/** URL-encoded form fields; an array repeats its field. */
export function form(fields: Record<string, string | string[]>): URLSearchParams {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) params.append(k, one)
  return params
}

/** Signs in with `key` (which needs keys:manage); `send` posts a form with the CSRF token unless `csrf` is given. */
export async function dashboardSession(h: Harness, key: string) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN }
  const res = await h.request('POST', '/dashboard/sign-in', { rawBody: form({ key, next: '/dashboard/embed' }), headers })
  if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`)
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!
  // The workspace's pages live under /dashboard/w/<slug>, where /dashboard redirects; tests name them /dashboard/<page>.
  const base = (await h.request('GET', '/dashboard', { headers: { cookie } })).headers.get('location')!
  /** The path of a page of the session's workspace: `/dashboard/deals` is `/dashboard/w/<slug>/deals`. */
  const at = (path: string) => (path.startsWith(`${base}/`) || path === base ? path : `${base}${path.replace(/^\/dashboard/, '')}`)
  const home = await (await h.request('GET', at('/dashboard/embed'), { headers: { cookie } })).text()
  const csrf = /name="_csrf" value="([^"]+)"/.exec(home)![1]!
  const send = (path: string, fields: Record<string, string | string[]> = {}, extra: Record<string, string> = {}) =>
    h.request('POST', at(path), { rawBody: form({ _csrf: csrf, ...fields }), headers: { ...headers, cookie, ...extra } })
  /** A post without the CSRF token: must be refused. */
  const sendWithoutCsrf = (path: string, fields: Record<string, string | string[]> = {}) =>
    h.request('POST', at(path), { rawBody: form(fields), headers: { ...headers, cookie } })
  const get = (path: string) => h.request('GET', at(path), { headers: { cookie } })
  const page = async (path: string) => (await get(path)).text()
  return { send, sendWithoutCsrf, get, page, cookie, csrf, base, at }
}
