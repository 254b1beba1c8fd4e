/** Standard Webhooks signing: the spec's reference vector, secret format, and both signatures after a rotation. */
import { describe, expect, test } from 'bun:test'
import { Webhook } from 'standardwebhooks'
import { generateSecret, sign, signatureHeader } from '../../src/lib/signing'
import { verifyAt } from '../webhooks-helpers'
import { useTestTimeout } from '../timeout'

useTestTimeout()

describe('signing', () => {
  test('matches the Standard Webhooks reference vector', () => {
    const signature = sign('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=')
  })

  test('agrees with the official library for a fresh secret', () => {
    const secret = generateSecret()
    const ts = new Date('2026-11-01T12:00:00Z')
    expect(sign(secret, 'msg_1', ts.getTime() / 1000, '{"a":1}')).toBe(new Webhook(secret).sign('msg_1', ts, '{"a":1}'))
  })

  test('a secret is whsec_ + base64 of 32 random bytes, different every time', () => {
    const a = generateSecret()
    const b = generateSecret()
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(Buffer.from(a.slice('whsec_'.length), 'base64')).toHaveLength(32)
    expect(a).not.toBe(b)
  })

  test('two secrets give two space-separated signatures, each verifiable on its own', () => {
    const [oldSecret, newSecret, stranger] = [generateSecret(), generateSecret(), generateSecret()]
    const now = Date.parse('2026-11-01T12:00:00Z')
    const body = '{"id":"msg_x","type":"webhook.test"}'
    const header = signatureHeader([newSecret, oldSecret], 'msg_x', now / 1000, body)
    expect(header.split(' ')).toHaveLength(2)
    const req = { path: '/', body, at: 0, headers: { 'webhook-id': 'msg_x', 'webhook-timestamp': String(now / 1000), 'webhook-signature': header } }
    expect(verifyAt(oldSecret, req, now)).toMatchObject({ id: 'msg_x' })
    expect(verifyAt(newSecret, req, now)).toMatchObject({ id: 'msg_x' })
    expect(() => verifyAt(stranger, req, now)).toThrow('No matching signature')
  })
})
