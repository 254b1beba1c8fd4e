/** The sign-in page: an operator's email and password, or (for a single workspace) a secret key with `keys:manage`. */
import { html, type Html } from '../html'
import { BASE, bareLayout, notices, type Notice } from '../layout'

/** The sign-in forms; `next` is where a successful sign-in goes, `email` refills the form after a failure. */
export function signInPage(opts: { next: string; notice?: Notice; email?: string; withKey?: boolean }): Html {
  return bareLayout(
    'Sign in',
    html`<section class="card sign-in">
  <h1>askad</h1>
  ${notices(opts.notice ? [opts.notice] : [])}
  <form method="post" action="${BASE}/sign-in">
    <input type="hidden" name="next" value="${opts.next}">
    <label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" value="${opts.email ?? ''}" required${opts.withKey ? '' : html` autofocus`}>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit" class="primary">Sign in</button>
  </form>
  <details${opts.withKey ? html` open` : ''}>
    <summary>Sign in with an API key instead</summary>
    <p>For a single workspace: a secret API key of it with the <code>keys:manage</code> scope.
    The key is checked once; your browser then keeps only a session cookie.</p>
    <form method="post" action="${BASE}/sign-in">
      <input type="hidden" name="next" value="${opts.next}">
      <label for="key">Secret key</label>
      <input id="key" name="key" type="password" autocomplete="off" spellcheck="false" placeholder="ask_sk_…" required${opts.withKey ? html` autofocus` : ''}>
      <button type="submit">Sign in with the key</button>
    </form>
  </details>
  <p class="muted small">No account yet? <code>askad operator create EMAIL</code> makes one; the first start also printed a one-time setup link.</p>
</section>`,
  )
}

/** The first-run setup form: creates the first operator, owner of every workspace. */
export function setupPage(opts: { token: string; notice?: Notice; email?: string }): Html {
  return bareLayout(
    'Set up askad',
    html`<section class="card sign-in">
  <h1>Set up askad</h1>
  <p>Create the first operator account. It owns every workspace and can invite others.</p>
  ${notices(opts.notice ? [opts.notice] : [])}
  <form method="post" action="${BASE}/setup">
    <input type="hidden" name="token" value="${opts.token}">
    ${credentialFields(opts.email, 'new-password')}
    <button type="submit" class="primary">Create the account</button>
  </form>
</section>`,
  )
}

/** Email and password fields of a form that creates an account. */
export function credentialFields(email: string | undefined, autocomplete: 'new-password' | 'current-password'): Html {
  return html`<label for="email">Email</label>
    <input id="email" name="email" type="email" autocomplete="username" value="${email ?? ''}" required>
    <label for="password">Password <span class="muted small">(at least 10 characters)</span></label>
    <input id="password" name="password" type="password" autocomplete="${autocomplete}" minlength="10" required>`
}
