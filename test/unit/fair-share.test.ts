/** The dispatcher's fair-share rules, without sockets: who may start how many attempts. */
import { describe, expect, test } from 'bun:test'
import { fairShare, InFlightShares, type Claimants } from '../../src/workers/fair-share'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const claimants = (workspaces: number, endpointsPerWorkspace: number): Claimants => ({ workspaces, endpointsOf: () => endpointsPerWorkspace })

describe('fairShare', () => {
  test('everyone busy: the pool split equally; someone idle: a fifth held back; never below 1', () => {
    expect(fairShare(50, 1, 0)).toBe(50)
    expect(fairShare(50, 1, 1)).toBe(40)
    expect(fairShare(50, 2, 0)).toBe(25)
    expect(fairShare(50, 200, 5)).toBe(1)
  })
})

describe('InFlightShares', () => {
  test('one tenant with one endpoint keeps the per-endpoint cap of 10', () => {
    const shares = new InFlightShares(50)
    expect(shares.room('a', 'a1', claimants(1, 1), 10)).toBe(10)
  })

  test('a tenant whose endpoints fill their shares leaves a fifth of the slots to another tenant', () => {
    const shares = new InFlightShares(50)
    const two = claimants(2, 5)
    let held = 0
    for (let e = 0; e < 5; e++) {
      while (shares.room('a', `a${e}`, two, 10) > 0) {
        shares.add('a', `a${e}`)
        held++
      }
    }
    expect(held).toBeLessThanOrEqual(40)
    expect(shares.room('b', 'b0', two, 10)).toBeGreaterThanOrEqual(10)
    // Once the other tenant is busy too, the first may not take back what it gives up.
    shares.add('b', 'b0')
    shares.remove('a', 'a0')
    expect(shares.room('a', 'a0', two, 10)).toBeLessThanOrEqual(0)
  })

  test('remove forgets attempts, so an endpoint that ended all of them counts as idle again', () => {
    const shares = new InFlightShares(50)
    shares.add('a', 'a1')
    shares.remove('a', 'a1')
    expect(shares.room('a', 'a1', claimants(1, 1), 10)).toBe(10)
  })
})
