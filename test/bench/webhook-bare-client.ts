/**
 * The bare baseline of test/bench/webhooks.ts, in a process of its own (as askad is): a loop of
 * `concurrency` fetches posting lead.created-shaped payloads round-robin to the given receivers for
 * `seconds`. Prints one JSON line {sent, errors, seconds}; the receivers count the arrivals.
 * Usage: bun test/bench/webhook-bare-client.ts SECONDS CONCURRENCY URL...
 */

const [secondsArg, concurrencyArg, ...urls] = process.argv.slice(2)
const seconds = Number(secondsArg)
const concurrency = Number(concurrencyArg)
if (!(seconds > 0) || !(concurrency > 0) || urls.length === 0) {
  console.error('usage: bun test/bench/webhook-bare-client.ts SECONDS CONCURRENCY URL...')
  process.exit(2)
}

/** A signature header of the size askad sends (one v1 signature), so the requests weigh the same. */
const SIGNATURE = `v1,${Buffer.alloc(32, 7).toString('base64')}`

let sent = 0
let errors = 0
let next = 0
const started = performance.now()
const deadline = started + seconds * 1000

async function worker(): Promise<void> {
  while (performance.now() < deadline) {
    const j = next++
    const n = Math.floor(j / urls.length)
    const createdAt = new Date().toISOString()
    const payload = JSON.stringify({
      id: `evt_bare_${n}`,
      type: 'lead.created',
      timestamp: createdAt,
      data: {
        lead: {
          id: `bare_${n}`,
          object: 'lead',
          email: `bare-${n}@bench.example`,
          first_name: 'Jane',
          last_name: 'Smith',
          phone: '+1234567890',
          source: 'hubspot',
          metadata: { deal_value: 5000 },
          created_at: createdAt,
        },
      },
    })
    try {
      const res = await fetch(urls[j % urls.length]!, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'askad-webhooks/bench',
          'webhook-id': `evt_bare_${n}`,
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': SIGNATURE,
        },
        body: payload,
      })
      await res.arrayBuffer()
      if (res.ok) sent++
      else errors++
    } catch {
      errors++
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, worker))
console.log(JSON.stringify({ sent, errors, seconds: (performance.now() - started) / 1000 }))

export {}
