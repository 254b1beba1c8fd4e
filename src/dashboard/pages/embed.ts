/** Embed: a ready-to-paste HTML form and a `fetch` snippet posting to /api/v1/leads/capture with a publishable key. */
import type { ReadDeps } from '../../deps'
import { keyLive, listKeys } from '../../modules/api-keys/service'
import { html, type Html } from '../html'

/** What the snippets show until a key is pasted in (the dashboard never knows a full key after its creation). */
const KEY_PLACEHOLDER = 'ask_pk_YOUR_PUBLISHABLE_KEY'

/** A plain HTML form: works without JavaScript, with a honeypot field for bots. */
function formSnippet(apiOrigin: string, key: string): string {
  return `<form method="post" action="${apiOrigin}/api/v1/leads/capture?key=${key}">
  <input name="email" type="email" placeholder="Email" required>
  <input name="name" placeholder="Name">
  <input type="hidden" name="source" value="website">
  <!-- Honeypot: people leave it empty, bots fill it in. -->
  <input name="_gotcha" tabindex="-1" autocomplete="off" style="display:none">
  <button type="submit">Send</button>
</form>`
}

/** The same with fetch, for pages that handle the answer themselves. */
function fetchSnippet(apiOrigin: string, key: string): string {
  return `const response = await fetch('${apiOrigin}/api/v1/leads/capture', {
  method: 'POST',
  headers: { Authorization: 'Bearer ${key}', 'Content-Type': 'application/json' },
  body: JSON.stringify({ email: 'jane@example.com', name: 'Jane Doe', page_url: location.href }),
})
const { id } = await response.json() // 201 {"id": "…", "status": "created"}`
}

/** Both snippets, each with a copy button; `data-template` lets the page fill in a pasted key. */
export function snippets(apiOrigin: string, key: string): Html {
  const block = (id: string, title: string, text: string) => html`<section class="snippet">
  <div class="snippet-head"><h3>${title}</h3><button type="button" data-copy="${id}">Copy</button></div>
  <pre><code id="${id}" data-template="${text}">${text}</code></pre>
</section>`
  return html`${block('snippet-form', 'HTML form', formSnippet(apiOrigin, key))}${block('snippet-fetch', 'JavaScript (fetch)', fetchSnippet(apiOrigin, key))}`
}

/** The live publishable keys, a field to paste one into, and the snippets. */
export async function embedPage(deps: ReadDeps, base: string, workspaceId: string, apiOrigin: string, now: number): Promise<Html> {
  const live = (await listKeys(deps, workspaceId)).filter((k) => k.kind === 'publishable' && keyLive(k, now))
  return html`<p>Paste one of these into a page on an allowed origin of a publishable key. Submissions arrive as leads with source
<code>website</code> (change the hidden field to tell forms apart); after sending, the visitor sees a small thank-you page with a link
back to your site, or goes to your own page when you add a <code>_redirect</code> field naming it.</p>
<section class="card">
  <h2>Your publishable key</h2>
  ${
    live.length
      ? html`<p>Live publishable keys: ${live.map((k) => html`<code>${k.prefix}…</code> (${k.allowedOrigins.join(', ')}) `)}</p>`
      : html`<p>No publishable key yet. <a href="${base}/settings/api-keys">Create one</a> for the origins of your site.</p>`
  }
  <p class="muted small">askad stores only a hash of each key, so it cannot fill the key in for you: paste the key you copied when you created it.
  Creating a publishable key also shows these snippets with the key already in them.</p>
  <label for="embed-key">Publishable key</label>
  <input id="embed-key" data-fill-key="${KEY_PLACEHOLDER}" placeholder="ask_pk_…" autocomplete="off" spellcheck="false">
</section>
${snippets(apiOrigin, KEY_PLACEHOLDER)}`
}
