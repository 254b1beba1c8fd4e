/** The SSRF guard: every blocked range, its IPv4-mapped and numeric spellings, the allow-list, and DNS answers. */
import { describe, expect, test } from 'bun:test'
import { parseRanges } from '../../src/lib/client-ip'
import { blockedReason, checkUrl, systemResolver, urlProblem, type HostResolver } from '../../src/lib/ssrf'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const none = parseRanges([])
const publicDns: HostResolver = async () => ['93.184.216.34']

describe('blocked addresses', () => {
  const blocked: [string, string][] = [
    ['http://localhost/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://0.0.0.0/', 'unspecified'],
    ['http://[::]/', 'unspecified'],
    ['http://169.254.169.254/latest/meta-data/', 'linkLocal'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://[::ffff:169.254.169.254]/', 'linkLocal'],
    ['http://2130706433/', 'loopback'],
    ['http://0x7f000001/', 'loopback'],
    ['http://127.1/', 'loopback'],
    ['http://10.1.2.3/', 'private'],
    ['http://172.16.0.1/', 'private'],
    ['http://192.168.1.1/', 'private'],
    ['http://100.64.0.1/', 'carrierGradeNat'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://240.0.0.1/', 'reserved'],
    ['http://255.255.255.255/', 'broadcast'],
    ['http://[fc00::1]/', 'uniqueLocal'],
    ['http://[fe80::1]/', 'linkLocal'],
    ['http://[ff02::1]/', 'multicast'],
    ['http://[64:ff9b::7f00:1]/', 'rfc6052'],
  ]
  for (const [url, range] of blocked) {
    test(`${url} is refused (${range})`, async () => {
      const result = await checkUrl(url, none, systemResolver)
      expect(result).toMatchObject({ ok: false, reason: 'blocked' })
      if (!result.ok) expect(result.message).toContain(`blocked address`)
      if (!result.ok) expect(result.message).toContain(`(${range})`)
    })
  }

  test('a public address passes, by literal or by name', async () => {
    expect(await checkUrl('https://93.184.216.34/hook', none, systemResolver)).toEqual({ ok: true, addresses: ['93.184.216.34'] })
    expect(await checkUrl('https://[2606:4700::1111]/hook', none, systemResolver)).toMatchObject({ ok: true })
    expect(await checkUrl('https://hooks.example.com/x', none, publicDns)).toEqual({ ok: true, addresses: ['93.184.216.34'] })
  })

  test('a name is refused when ANY of its addresses is internal', async () => {
    const mixed: HostResolver = async () => ['93.184.216.34', '10.0.0.7']
    expect(await checkUrl('https://hooks.example.com/', none, mixed)).toMatchObject({
      ok: false,
      reason: 'blocked',
      message: expect.stringContaining('10.0.0.7'),
    })
  })

  test('DNS failures and empty answers are reported as dns', async () => {
    const failing: HostResolver = async () => {
      throw new Error('getaddrinfo ENOTFOUND')
    }
    expect(await checkUrl('https://nope.example/', none, failing)).toMatchObject({ ok: false, reason: 'dns' })
    expect(await checkUrl('https://nope.example/', none, async () => [])).toMatchObject({ ok: false, reason: 'dns' })
  })
})

describe('ASKAD_WEBHOOK_ALLOW_CIDRS', () => {
  test('addresses inside the allow-list pass, IPv4-mapped spellings included; others stay blocked', async () => {
    const lan = parseRanges(['127.0.0.0/8', '10.0.0.0/8'])
    expect(blockedReason('127.0.0.1', lan)).toBeNull()
    expect(blockedReason('::ffff:127.0.0.1', lan)).toBeNull()
    expect(blockedReason('10.9.8.7', lan)).toBeNull()
    expect(blockedReason('192.168.0.1', lan)).toContain('private')
    expect(blockedReason('::1', lan)).toContain('loopback')
    expect(await checkUrl('http://2130706433/', lan, systemResolver)).toMatchObject({ ok: true })
    expect(await checkUrl('http://localhost/', parseRanges(['127.0.0.0/8', '::1']), systemResolver)).toMatchObject({ ok: true })
  })
})

describe('URL syntax', () => {
  test('only absolute http(s) URLs without credentials', () => {
    expect(urlProblem('https://hooks.example.com/a?b=c')).toBeNull()
    expect(urlProblem('ftp://hooks.example.com/')).toContain('http or https')
    expect(urlProblem('/relative')).toContain('absolute')
    expect(urlProblem('https://user:pw@hooks.example.com/')).toContain('credentials')
    expect(urlProblem(`https://a.example/${'x'.repeat(3000)}`)).toContain('at most')
  })
})
