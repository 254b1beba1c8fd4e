/**
 * What the docs page and the dashboard share as web pages served by askad itself: versioned asset
 * URLs cached for a year, asset responses, and a Content-Security-Policy that lets a page load
 * nothing from anywhere but this server.
 */
import { VERSION } from '../version'

/** Assets change only with a release; the version in their URL lets browsers keep them for a year. */
export const ASSET_CACHE_CONTROL = 'public, max-age=31536000, immutable'

/** The URL of an embedded asset under `base`, carrying the release so a new version is fetched anew. */
export function assetUrl(base: string, name: string): string {
  return `${base}/${name}?v=${encodeURIComponent(VERSION)}`
}

/** An embedded asset: cached for a year, never content-sniffed. */
export function assetResponse(body: BodyInit, contentType: string): Response {
  return new Response(body, { headers: { 'content-type': contentType, 'cache-control': ASSET_CACHE_CONTROL, 'x-content-type-options': 'nosniff' } })
}

/** Nothing from anywhere but this server, no framing, no base URL; pages add what they need on top. */
const BASE_CSP: Record<string, string> = {
  'default-src': "'none'",
  'script-src': "'self'",
  'style-src': "'self'",
  'img-src': "'self' data:",
  'connect-src': "'self'",
  'base-uri': "'none'",
  'form-action': "'none'",
  'frame-ancestors': "'none'",
}

/** A Content-Security-Policy: the shared base with some directives replaced or added. */
export function contentSecurityPolicy(overrides: Record<string, string> = {}): string {
  return Object.entries({ ...BASE_CSP, ...overrides })
    .map(([directive, value]) => `${directive} ${value}`)
    .join('; ')
}
