/** The sign-in page: one field for a secret key with `keys:manage`. */
import { html, type Html } from '../html'
import { BASE, bareLayout, notices, type Notice } from '../layout'

/** The sign-in form; `next` is where a successful sign-in goes. */
export function signInPage(opts: { next: string; notice?: Notice }): Html {
  return bareLayout(
    'Sign in',
    html`<section class="card sign-in">
  <h1>askad</h1>
  <p>Sign in with a secret API key of your workspace that has the <code>keys:manage</code> scope.
  The key is checked once; your browser then keeps only a session cookie.</p>
  ${notices(opts.notice ? [opts.notice] : [])}
  <form method="post" action="${BASE}/sign-in">
    <input type="hidden" name="next" value="${opts.next}">
    <label for="key">Secret key</label>
    <input id="key" name="key" type="password" autocomplete="off" spellcheck="false" placeholder="ask_sk_…" required autofocus>
    <button type="submit" class="primary">Sign in</button>
  </form>
  <p class="muted small">The first start of the server printed a key; <code>askad key create --workspace NAME</code> makes another.</p>
</section>`,
  )
}
