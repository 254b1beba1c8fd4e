import { describe, expect, test } from 'bun:test'
import { generateKey, hashKey, keyPrefix, parseKey, redactKeys } from '../../src/lib/keys'
import { parseRateLimit } from '../../src/config'
import { useTestTimeout } from '../timeout'

useTestTimeout()

describe('API key format', () => {
  test('generated keys parse back to their kind', () => {
    const secret = generateKey('secret')
    const publishable = generateKey('publishable')
    expect(secret).toMatch(/^ask_sk_[0-9A-Za-z]{36}$/)
    expect(publishable).toMatch(/^ask_pk_[0-9A-Za-z]{36}$/)
    expect(parseKey(secret)).toBe('secret')
    expect(parseKey(publishable)).toBe('publishable')
  })

  test('keys are distinct and carry ≥ 128 bits of randomness', () => {
    const keys = new Set(Array.from({ length: 2000 }, () => generateKey('secret')))
    expect(keys.size).toBe(2000)
    // 30 base62 characters ≈ 178 bits; every character position varies.
    const chars = new Set([...keys].map((k) => k[7]))
    expect(chars.size).toBeGreaterThan(40)
  })

  test('a single changed character fails the checksum', () => {
    const key = generateKey('secret')
    for (const i of [7, 20, key.length - 1]) {
      const c = key[i] === 'a' ? 'b' : 'a'
      expect(parseKey(key.slice(0, i) + c + key.slice(i + 1))).toBeNull()
    }
    expect(parseKey(key.replace('ask_sk_', 'ask_pk_'))).toBeNull()
    expect(parseKey('ask_sk_short')).toBeNull()
    expect(parseKey('')).toBeNull()
  })

  test('hash is SHA-256 hex; prefix shows 4 characters of the random part', () => {
    const key = generateKey('secret')
    expect(hashKey(key)).toMatch(/^[0-9a-f]{64}$/)
    expect(keyPrefix(key)).toBe(key.slice(0, 11))
  })

  test('redactKeys hides anything key-shaped', () => {
    const key = generateKey('publishable')
    const text = `GET /x/${key}/y`
    expect(redactKeys(text)).not.toContain(key)
    expect(redactKeys(text)).toContain(`${key.slice(0, 11)}…`)
  })
})

describe('rate limit setting', () => {
  test('N means per minute; N/Ws and N/Wm set the window', () => {
    expect(parseRateLimit('100')).toEqual({ capacity: 100, windowMs: 60_000 })
    expect(parseRateLimit('100/2s')).toEqual({ capacity: 100, windowMs: 2_000 })
    expect(parseRateLimit('5/1m')).toEqual({ capacity: 5, windowMs: 60_000 })
    expect(parseRateLimit('100 per minute')).toEqual({ capacity: 100, windowMs: 60_000 })
    expect(() => parseRateLimit('lots')).toThrow(/Invalid rate limit/)
    expect(() => parseRateLimit('0')).toThrow(/at least 1/)
  })
})
