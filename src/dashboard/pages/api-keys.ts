/** Settings > API keys: list, create (the full key shown once, with a copy button), revoke. */
import type { ReadDeps } from '../../deps'
import { SCOPES } from '../../lib/scopes'
import { MAX_KEY_RATE_LIMIT } from '../../modules/api-keys/model'
import { keyLive, listKeys, serializeKey, type ApiKey } from '../../modules/api-keys/service'
import { html, type Html } from '../html'
import { actionButton, csrfField, table, when, type Viewer } from '../layout'
import { snippets } from './embed'

/** What the create form was sent with, to show it again next to an error. */
export interface KeyForm {
  kind: string
  name: string
  scopes: string[]
  origins: string
  /** Requests per window as typed; empty for the default. */
  rateLimit: string
  /** `datetime-local` text, read as UTC; empty for no expiry of its own. */
  expires: string
}

/** What bounds a new key of this session: its rate-limit ceiling and default, the window, and its own expiry. */
export interface KeyLimits {
  ceiling: number
  instanceDefault: number
  windowSeconds: number
  expiresAt: number | null
}

const EMPTY_FORM: KeyForm = { kind: 'secret', name: '', scopes: [], origins: '', rateLimit: '', expires: '' }

function status(k: ApiKey, now: number): Html {
  if (keyLive(k, now)) return html`<span class="badge good">active</span>`
  return html`<span class="badge bad">${k.revokedAt && k.revokedAt <= now ? 'revoked' : 'expired'}</span>`
}

/** A key's limit as the list shows it: its own, else the instance's. */
function rateLimitText(k: ApiKey, limits: KeyLimits): string {
  return k.rateLimit === null ? `default (${limits.instanceDefault})` : String(k.rateLimit)
}

function createForm(viewer: Viewer, form: KeyForm, limits: KeyLimits): Html {
  const capped = limits.ceiling < limits.instanceDefault
  const expiry = limits.expiresAt === null ? null : new Date(limits.expiresAt).toISOString()
  const checked = (on: boolean) => (on ? html` checked` : '')
  return html`<form method="post" action="${viewer.base}/settings/api-keys" class="card stack" id="create-key">
  <h2>Create a key</h2>
  ${csrfField(viewer)}
  <fieldset class="row">
    <legend>Kind</legend>
    <label><input type="radio" name="kind" value="secret"${checked(form.kind !== 'publishable')}> Secret <code>ask_sk_…</code> (servers)</label>
    <label><input type="radio" name="kind" value="publishable"${checked(form.kind === 'publishable')}> Publishable <code>ask_pk_…</code> (web pages)</label>
  </fieldset>
  <label>Name <input name="name" value="${form.name}" maxlength="200" placeholder="CRM sync"></label>
  <fieldset data-kind="secret">
    <legend>Scopes (secret keys; none ticked = all scopes ${viewer.role ? 'your role allows' : 'of your key'})</legend>
    <div class="checks">${SCOPES.map((s) => html`<label><input type="checkbox" name="scopes" value="${s}"${checked(form.scopes.includes(s))}> <code>${s}</code></label>`)}</div>
  </fieldset>
  <label data-kind="publishable">Allowed origins (publishable keys; one per line)
    <textarea name="allowed_origins" rows="2" placeholder="https://www.example.com">${form.origins}</textarea>
  </label>
  <div class="row">
    <label>Rate limit (requests per ${limits.windowSeconds} s, 1–${Math.min(limits.ceiling, MAX_KEY_RATE_LIMIT)}; optional)
      <input name="rate_limit" type="number" min="1" max="${Math.min(limits.ceiling, MAX_KEY_RATE_LIMIT)}" value="${form.rateLimit}" placeholder="${capped ? `${limits.ceiling} (your key's)` : `default (${limits.instanceDefault})`}"></label>
    <label>Expires (UTC; optional${expiry ? html`, at the latest ${when(expiry)}` : ''})
      <input name="expires_at" type="datetime-local" value="${form.expires}"${expiry ? html` max="${expiry.slice(0, 16)}"` : ''}></label>
  </div>
  ${viewer.role ? '' : html`<p class="muted small">A key never gets a higher limit or a later expiry than the key you signed in with${expiry ? '; left empty, the expiry is that key’s' : ''}.</p>`}
  <button type="submit" class="primary">Create key</button>
</form>`
}

/** The workspace's keys with their status and revoke buttons, then the create form. */
export async function keysPage(
  deps: ReadDeps,
  viewer: Viewer & { keyId: string | null; workspaceId: string },
  now: number,
  limits: KeyLimits,
  form: KeyForm = EMPTY_FORM,
): Promise<Html> {
  const rows = (await listKeys(deps, viewer.workspaceId)).map((row: ApiKey) => {
    const k = serializeKey(row)
    const live = keyLive(row, now)
    const self = row.id === viewer.keyId
    return html`<tr data-key="${k.id}">
  <td>${k.name}${self ? html` <span class="badge">this session</span>` : ''}</td>
  <td><code>${k.prefix}</code></td>
  <td>${k.kind}</td>
  <td class="scopes">${k.kind === 'publishable' ? k.allowed_origins.join(', ') : k.scopes.length === SCOPES.length ? 'all scopes' : k.scopes.join(', ')}</td>
  <td>${when(k.created_at)}</td>
  <td>${when(k.last_used_at)}</td>
  <td class="num">${rateLimitText(row, limits)}</td>
  <td>${when(k.expires_at)}</td>
  <td>${status(row, now)}</td>
  <td>${live ? actionButton(viewer, `${viewer.base}/settings/api-keys/${k.id}/revoke`, 'Revoke', { confirm: self ? 'Revoke the key you are signed in with? You will be signed out.' : `Revoke ${k.prefix}? Requests with it fail from now on.`, className: 'danger' }) : ''}</td>
</tr>`
  })
  return html`${table(['Name', 'Key', 'Kind', 'Scopes / origins', 'Created', 'Last used', 'Rate limit', 'Expires', 'Status', ''], rows, 'No keys.')}
${createForm(viewer, form, limits)}`
}

/** The one time a key is shown in full: right after creation, with a copy button (and, for publishable keys, the embed snippets). */
export function createdKeyPage(base: string, record: ApiKey, key: string, apiOrigin: string): Html {
  return html`<section class="card once" role="status">
  <h2>Your new ${record.kind} key “${record.name}”</h2>
  <p><b>Copy it now.</b> askad keeps only a hash: this is the only time the key is shown.</p>
  <div class="secret"><code id="new-key">${key}</code><button type="button" data-copy="new-key">Copy</button></div>
  <p><a href="${base}/settings/api-keys">Done, back to the keys</a></p>
</section>
${record.kind === 'publishable' ? html`<h2>Ready-to-paste snippets</h2>${snippets(apiOrigin, key)}` : ''}`
}
