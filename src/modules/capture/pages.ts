/**
 * The pages a plain HTML form (no JavaScript) lands on when it posts to capture: a thank-you page
 * when there is no `_redirect`, and an error page instead of problem+json when the post is refused.
 * Small, self-contained (no other request), under a CSP that allows nothing but their own style.
 */
import { createHash } from 'node:crypto'
import type { FieldError } from '../../errors'
import { Html, html } from '../../lib/html'
import { contentSecurityPolicy } from '../../plugins/web-page'

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#222;line-height:1.5}' +
  'h1{font-size:1.6rem}ul{padding-left:1.2rem}a{color:#0b57d0}small{color:#666}'

/** Only the inline style above may apply: no script, no image, no request of any kind. */
const PAGE_CSP = contentSecurityPolicy({
  'script-src': "'none'",
  'style-src': `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  'img-src': "'none'",
  'connect-src': "'none'",
})

/** Headers of both pages: HTML under the CSP above, never cached (an error page names one submission), never sniffed. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': PAGE_CSP,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
}

/** The page the form was posted from, if the browser named one: the only place a "back" link may go (http or https). */
export function backLink(referrer: string | null): string | null {
  if (!referrer || !URL.canParse(referrer)) return null
  const url = new URL(referrer)
  return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null
}

function page(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>
<style>${new Html(STYLE)}</style></head>
<body>${body}</body>
</html>
`.text
}

/** The thank-you page: what a form without `_redirect` shows, with a link back to the page it came from. */
export function thankYouPage(back: string | null): string {
  return page(
    'Thank you',
    html`<h1>Thank you!</h1><p>Your details have been received.</p>${back && html`<p><a href="${back}">Back to the page you came from</a></p>`}`,
  )
}

/** What went wrong with a submission, as a visitor reads it: the fields to fix, or the refusal's detail. */
export function errorPage(problem: { title: string; detail: string; request_id: string; errors?: FieldError[] }, back: string | null): string {
  const fields = problem.errors?.filter((e) => e.path.startsWith('/')) ?? []
  const what =
    fields.length > 0
      ? html`<p>Please check:</p><ul>${fields.map((e) => html`<li><strong>${e.path.slice(1) || 'the form'}</strong>: ${e.message}</li>`)}</ul>`
      : html`<p>${problem.title}: ${problem.detail}</p>`
  return page(
    'Not sent',
    html`<h1>Your details were not sent</h1>${what}${
      back ? html`<p><a href="${back}">Go back and try again</a></p>` : html`<p>Use your browser's back button and try again.</p>`
    }<p><small>Reference: ${problem.request_id}</small></p>`,
  )
}
