/** Settings > Sources: list, create (the URL shown once, with the tool's setup steps), rotate and revoke. */
import type { ReadDeps } from '../../deps'
import { PRESETS } from '../../modules/sources/presets'
import { PRESET_NAMES, type PresetName } from '../../modules/sources/presets/types'
import { listSources, serializeSource, type Source } from '../../modules/sources/service'
import { html, type Html } from '../html'
import { actionButton, csrfField, table, when, type Viewer } from '../layout'

/** What the create form was sent with, to show it again next to an error (secrets are never sent back). */
export interface SourceForm {
  name: string
  preset: string
  rateLimit: string
}

const EMPTY_FORM: SourceForm = { name: '', preset: 'generic', rateLimit: '' }

/** The header a flat-field source's secret travels in (the presets' SECRET_HEADER). */
const SECRET_HEADER = 'X-Askad-Secret'

/** Our field names, which the flat-field tools map their data onto. */
const FIELDS = html`<code>email</code>, <code>first_name</code>, <code>last_name</code>, <code>phone</code>`

/** Where to paste the URL in each tool and which secret to copy from it: short, the docs have the rest. */
const SETUP: Record<PresetName, (url: Html) => Html> = {
  generic: (url) => html`<li>POST JSON or a form to ${url}.</li>
<li>Use the fields ${FIELDS}; other fields are kept as metadata.</li>
<li>If you set a secret, send it in the <code>${SECRET_HEADER}</code> header.</li>`,
  zapier: (url) => html`<li>In your Zap, add the action <b>Webhooks by Zapier → POST</b>.</li>
<li>URL: ${url}. Payload type: <b>Form</b> or <b>JSON</b>.</li>
<li>Data: map ${FIELDS}; other fields are kept as metadata.</li>
<li>If you set a secret, add the header <code>${SECRET_HEADER}</code> with it.</li>`,
  make: (url) => html`<li>Add the module <b>HTTP → Make a request</b>, method <b>POST</b>.</li>
<li>URL: ${url}. Body type: <b>Application/x-www-form-urlencoded</b> or raw JSON.</li>
<li>Fields: ${FIELDS}; other fields are kept as metadata.</li>
<li>If you set a secret, add the header <code>${SECRET_HEADER}</code> with it.</li>`,
  n8n: (url) => html`<li>Add an <b>HTTP Request</b> node, method <b>POST</b>.</li>
<li>URL: ${url}. Turn on <b>Send Body</b> (JSON or Form Urlencoded).</li>
<li>Fields: ${FIELDS}; other fields are kept as metadata.</li>
<li>If you set a secret, turn on <b>Send Headers</b> and add <code>${SECRET_HEADER}</code> with it.</li>`,
  hubspot: (url) => html`<li>In a HubSpot workflow, add the action <b>Send a webhook</b>, method <b>POST</b>.</li>
<li>Webhook URL: ${url}.</li>
<li>With a developer app, the signing secret is its <b>client secret</b> and askad checks HubSpot’s v3 signature. Without one,
choose authentication <b>API key</b>, header name <code>${SECRET_HEADER}</code>, and your secret as the value.</li>`,
  typeform: (url) => html`<li>In Typeform, open the form: <b>Connect → Webhooks → Add a webhook</b>.</li>
<li>Endpoint: ${url}.</li>
<li>Under <b>Edit → Secret</b>, enter the same signing secret you entered here, save, and turn the webhook on.</li>`,
  facebook: (url) => html`<li>In your Facebook app: <b>Webhooks → Page → Subscribe</b> to the <code>leadgen</code> field.</li>
<li>Callback URL: ${url}. Verify token: the verify token you entered here.</li>
<li>The signing secret is the app secret (<b>App settings → Basic</b>). Subscribe your page to the app.</li>
<li>Without a page access token askad acknowledges each lead but cannot fetch it, so nothing is stored.</li>`,
}

/** Which presets take a field: shown next to it, and used by the page's script to show only the chosen preset's fields. */
function presetsTaking(takes: (name: PresetName) => boolean): PresetName[] {
  return PRESET_NAMES.filter(takes)
}

function createForm(viewer: Viewer, form: SourceForm, ceiling: number, windowSeconds: number): Html {
  const signing = presetsTaking((p) => PRESETS[p].signingSecret !== 'none')
  const required = presetsTaking((p) => PRESETS[p].signingSecret === 'required')
  const verify = presetsTaking((p) => PRESETS[p].verifyToken)
  const access = presetsTaking((p) => PRESETS[p].mapFetched !== undefined)
  const list = (names: PresetName[]) => names.map((n) => PRESETS[n].title).join(', ')
  return html`<form method="post" action="${viewer.base}/settings/sources" class="card stack" id="create-source">
  <h2>Create a source</h2>
  ${csrfField(viewer)}
  <label>Name <input name="name" value="${form.name}" maxlength="200" required placeholder="Zapier: Typeform entries"></label>
  <label>Tool
    <select name="preset">${PRESET_NAMES.map((p) => html`<option value="${p}"${p === form.preset ? html` selected` : ''}>${PRESETS[p].title}</option>`)}</select>
  </label>
  <label data-presets="${signing.join(' ')}">Signing secret (required for ${list(required) || 'none'}; optional for the others)
    <input name="signing_secret" type="password" autocomplete="off" maxlength="1024"></label>
  <label data-presets="${verify.join(' ')}">Verify token (${list(verify)} only; you type the same into the tool)
    <input name="verify_token" type="password" autocomplete="off" maxlength="1024"></label>
  <label data-presets="${access.join(' ')}">Page access token (${list(access)} only; optional, to fetch each lead)
    <input name="access_token" type="password" autocomplete="off" maxlength="1024"></label>
  <label>Rate limit (requests per ${windowSeconds} s, 1–${ceiling}; optional)
    <input name="rate_limit" type="number" min="1" max="${ceiling}" value="${form.rateLimit}" placeholder="default"></label>
  <button type="submit" class="primary">Create source</button>
</form>`
}

function status(s: Source): Html {
  return s.revokedAt === null ? html`<span class="badge good">active</span>` : html`<span class="badge bad">revoked</span>`
}

/** The workspace's sources; with keys:manage, their rotate and revoke buttons and the create form. */
export async function sourcesPage(
  deps: ReadDeps,
  viewer: Viewer & { workspaceId: string },
  limits: { ceiling: number; windowSeconds: number },
  form: SourceForm = EMPTY_FORM,
): Promise<Html> {
  const manages = viewer.scopes.includes('keys:manage')
  const rows = (await listSources(deps, viewer.workspaceId)).map((row) => {
    const s = serializeSource(row)
    const live = row.revokedAt === null
    const actions = html`${actionButton(viewer, `${viewer.base}/settings/sources/${s.id}/rotate`, 'New URL', { confirm: `Replace the URL of “${s.name}”? The old URL stops working at once.` })}
${actionButton(viewer, `${viewer.base}/settings/sources/${s.id}/revoke`, 'Revoke', { confirm: `Revoke “${s.name}”? Its URL stops working at once.`, className: 'danger' })}`
    return html`<tr data-source="${s.id}">
  <td>${s.name}</td>
  <td>${PRESETS[row.preset].title}</td>
  <td><code>${s.prefix}</code></td>
  <td>${s.has_signing_secret ? 'yes' : 'no'}</td>
  <td>${when(s.created_at)}</td>
  <td>${when(s.last_used_at)}</td>
  <td class="num">${s.rate_limit ?? 'default'}</td>
  <td>${status(row)}</td>
  <td>${manages && live ? actions : ''}</td>
</tr>`
  })
  return html`<p class="muted">A source is a URL of its own for a tool that cannot send an API key (Zapier, Make, n8n, HubSpot, Typeform, Facebook Lead Ads). It can only add leads.</p>
${table(['Name', 'Tool', 'URL', 'Signed', 'Created', 'Last used', 'Rate limit', 'Status', ''], rows, 'No sources yet.')}
${manages ? createForm(viewer, form, limits.ceiling, limits.windowSeconds) : ''}`
}

/** The one time a source's URL is shown: right after creation or rotation, with a copy button and the tool's setup steps. */
export function sourceUrlPage(base: string, record: Source, url: string, rotated: boolean): Html {
  const pasted = html`<b>the URL above</b>`
  return html`<section class="card once" role="status">
  <h2>${rotated ? 'New URL for' : 'Your new source'} “${record.name}”</h2>
  <p><b>Copy it now.</b> askad keeps only a hash: this is the only time the URL is shown.${rotated ? ' The old URL no longer works: paste this one into the tool.' : ''}</p>
  <div class="secret"><code id="source-url">${url}</code><button type="button" data-copy="source-url">Copy</button></div>
  <h3>Set up ${PRESETS[record.preset].title}</h3>
  <ol class="steps">${SETUP[record.preset](pasted)}</ol>
  <p><a href="${base}/settings/sources">Done, back to the sources</a></p>
</section>`
}
