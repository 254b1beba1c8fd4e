/** Settings > API keys: list, create (the full key shown once, with a copy button), revoke. */
import type { ReadDeps } from '../../deps'
import { SCOPES } from '../../lib/scopes'
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
}

const EMPTY_FORM: KeyForm = { kind: 'secret', name: '', scopes: [], origins: '' }

function status(k: ApiKey, now: number): Html {
  if (keyLive(k, now)) return html`<span class="badge good">active</span>`
  return html`<span class="badge bad">${k.revokedAt && k.revokedAt <= now ? 'revoked' : 'expired'}</span>`
}

function createForm(viewer: Viewer, form: KeyForm): Html {
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
    <legend>Scopes (secret keys; none ticked = all scopes of your key)</legend>
    <div class="checks">${SCOPES.map((s) => html`<label><input type="checkbox" name="scopes" value="${s}"${checked(form.scopes.includes(s))}> <code>${s}</code></label>`)}</div>
  </fieldset>
  <label data-kind="publishable">Allowed origins (publishable keys; one per line)
    <textarea name="allowed_origins" rows="2" placeholder="https://www.example.com">${form.origins}</textarea>
  </label>
  <button type="submit" class="primary">Create key</button>
</form>`
}

/** The workspace's keys with their status and revoke buttons, then the create form. */
export async function keysPage(
  deps: ReadDeps,
  viewer: Viewer & { keyId: string | null; workspaceId: string },
  now: number,
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
  <td>${status(row, now)}</td>
  <td>${live ? actionButton(viewer, `${viewer.base}/settings/api-keys/${k.id}/revoke`, 'Revoke', { confirm: self ? 'Revoke the key you are signed in with? You will be signed out.' : `Revoke ${k.prefix}? Requests with it fail from now on.`, className: 'danger' }) : ''}</td>
</tr>`
  })
  return html`${table(['Name', 'Key', 'Kind', 'Scopes / origins', 'Created', 'Last used', 'Status', ''], rows, 'No keys.')}
${createForm(viewer, form)}`
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
