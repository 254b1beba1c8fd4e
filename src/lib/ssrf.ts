/**
 * SSRF guard for webhook URLs: the host is resolved and every address must be public
 * unicast (or inside the operator's allow-list), so a webhook cannot reach the loopback,
 * the LAN, cloud metadata (169.254.169.254) or any other internal range.
 */
import { lookup } from 'node:dns/promises'
import ipaddr from 'ipaddr.js'
import { inRanges, type parseRanges } from './client-ip'

/** Every address a host name resolves to. */
export type HostResolver = (host: string) => Promise<string[]>

export type AddressRanges = ReturnType<typeof parseRanges>

/** Longest URL accepted for a webhook endpoint. */
export const MAX_URL_LENGTH = 2048

/** The operating system's resolver (getaddrinfo, so /etc/hosts counts), all addresses. */
export const systemResolver: HostResolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address)

export type UrlCheck =
  | { ok: true; addresses: string[] }
  | { ok: false; reason: 'dns'; message: string }
  | { ok: false; reason: 'blocked'; message: string; address: string }

/** Syntax check of a webhook URL: absolute http(s), a host, no credentials. Returns an error message or null. */
export function urlProblem(raw: string): string | null {
  if (raw.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters`
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'must be an absolute URL'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https'
  if (!url.hostname) return 'must name a host'
  if (url.username || url.password) return 'must not contain credentials; use the endpoint headers for receiver authentication'
  return null
}

/**
 * IANA's IPv6 global unicast block. ipaddr.js calls every address outside its named ranges
 * 'unicast', including IPv4-compatible ::a.b.c.d and other unassigned space: reserved for us.
 */
const IPV6_GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number]

/** The name of the special range an address is in, or null for public unicast. IPv4-mapped IPv6 counts as IPv4. */
export function specialRange(address: string): string | null {
  let addr: ipaddr.IPv4 | ipaddr.IPv6
  try {
    addr = ipaddr.process(address)
  } catch {
    return 'invalid'
  }
  const range = addr.range()
  if (range !== 'unicast') return range
  return addr.kind() === 'ipv6' && !(addr as ipaddr.IPv6).match(IPV6_GLOBAL_UNICAST) ? 'reserved' : null
}

/** Why an address may not be contacted, or null when it may (public, or inside the allow-list). */
export function blockedReason(address: string, allow: AddressRanges): string | null {
  const range = specialRange(address)
  if (range === null) return null
  if (range !== 'invalid' && inRanges(ipaddr.process(address), allow)) return null
  return `blocked address ${address} (${range})`
}

/** Resolves the URL's host and checks every address; the URL must already pass `urlProblem`. */
export async function checkUrl(raw: string, allow: AddressRanges, resolve: HostResolver): Promise<UrlCheck> {
  const host = new URL(raw).hostname.replace(/^\[(.*)\]$/, '$1')
  let addresses: string[]
  if (ipaddr.isValid(host)) {
    addresses = [host]
  } else {
    try {
      addresses = await resolve(host)
    } catch (error) {
      return { ok: false, reason: 'dns', message: `cannot resolve host '${host}': ${(error as Error).message}` }
    }
    if (addresses.length === 0) return { ok: false, reason: 'dns', message: `host '${host}' has no addresses` }
  }
  for (const address of addresses) {
    const reason = blockedReason(address, allow)
    // The address as the allow-list compares it (IPv4-mapped IPv6 as IPv4), so a hint naming it works.
    if (reason) return { ok: false, reason: 'blocked', message: reason, address: ipaddr.isValid(address) ? ipaddr.process(address).toString() : address }
  }
  return { ok: true, addresses }
}
