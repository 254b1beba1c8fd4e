/** Hostile input at every route (fast-check): no 5xx, problem+json errors, no stored change from a rejected request. */
import { afterAll, expect, test } from 'bun:test'
import { MAX_JSON_DEPTH } from '../../src/plugins/body'
import { createWorld, fingerprint, runFuzz, statsRows } from '../bench/fuzz'
import { printTable } from '../bench/lib'
import { useTestTimeout } from '../timeout'

useTestTimeout()

/** Fixed, so a failure reproduces; FUZZ_SEED / FUZZ_RUNS override it. */
const SEED = Number(process.env.FUZZ_SEED ?? 20261101)
const RUNS = Number(process.env.FUZZ_RUNS ?? 5000)

const world = await createWorld()
afterAll(() => world.h.close())

test(`${RUNS} hostile requests at every route (seed ${SEED})`, async () => {
  console.log(`fuzz seed ${SEED} (reproduce: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} bun test test/unit/fuzz.test.ts)`)
  const result = await runFuzz({ seed: SEED, runs: RUNS, world })
  printTable(`fuzz: ${result.runs} requests in ${result.seconds.toFixed(1)} s`, statsRows(result))
  expect(result.stats.get('5xx')).toBeUndefined()
  // The traffic reached the code behind auth and validation, not only the refusals in front of it.
  for (const status of ['status 201', 'status 200', 'status 422', 'status 404', 'status 401', 'status 413', 'status 415'])
    expect(result.stats.get(status)).toBeGreaterThan(0)
}, 60_000)

test('the fingerprint sees any change to a stored row', () => {
  const before = fingerprint(world.h)
  world.h.db.$client.run("update contacts set last_source = last_source || '!' where rowid = (select min(rowid) from contacts)")
  expect(fingerprint(world.h)).not.toBe(before)
  world.h.db.$client.run('update contacts set last_source = substr(last_source, 1, length(last_source) - 1) where rowid = (select min(rowid) from contacts)')
  expect(fingerprint(world.h)).toBe(before)
})

// Found by this fuzzer: a body of a few hundred thousand nested brackets (well under 1 MiB) overflowed the
// stack in the validator's error message (a 500), and 20,000 levels took ~14 s of CPU.
test(`JSON nested deeper than ${MAX_JSON_DEPTH} levels is a quick 400, and ${MAX_JSON_DEPTH} levels still pass`, async () => {
  const before = fingerprint(world.h)
  for (const depth of [MAX_JSON_DEPTH + 1, 20_000, 500_000]) {
    const started = performance.now()
    const res = await world.h.request('POST', '/api/v1/deals', {
      key: world.keys.all,
      rawBody: '['.repeat(depth) + ']'.repeat(depth),
      headers: { 'content-type': 'application/json' },
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toStartWith('application/problem+json')
    expect((await res.json()).detail).toContain(`deeper than ${MAX_JSON_DEPTH} levels`)
    expect(performance.now() - started).toBeLessThan(1000)
  }
  expect(fingerprint(world.h)).toBe(before)
  // Brackets inside strings do not count, and the deepest accepted body is stored.
  const metadata = JSON.parse(`${'{"a":'.repeat(MAX_JSON_DEPTH - 2)}"[[[[{{{{\\"[["${'}'.repeat(MAX_JSON_DEPTH - 2)}`)
  const res = await world.h.request('POST', '/api/v1/leads/inbound', { key: world.keys.all, body: { email: 'deep@example.com', metadata } })
  expect(res.status).toBe(201)
})

// Found by this fuzzer: an asset lookup by name found Object.prototype's members (a 500 for /docs/assets/constructor).
test('names of Object.prototype members are 404s, not 500s', async () => {
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
    const res = await world.h.request('GET', `/docs/assets/${name}`)
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toStartWith('application/problem+json')
  }
})
