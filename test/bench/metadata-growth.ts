/**
 * Metadata growth (red-team item 3): 30 leads for one email, each adding a FIELD_KB field, then another
 * workspace's leads. Prints each lead's status, the first and last lead's time, the contact's stored
 * metadata, one contacts page and RSS. With the caps a 900 KB field is a 422 and 30 KB fields leave a
 * contact of at most 64 KB.
 * Usage: bun test/bench/metadata-growth.ts [field-kb]
 */
import { createHarness } from '../helpers'

const FIELD_KB = Number(process.argv[2] ?? 900)
const LEADS = 30

const h = createHarness()
const ws = await h.workspace()
const other = await h.workspace()
const field = 'x'.repeat(FIELD_KB * 1024)
const times: number[] = []
const statuses = new Set<number>()
for (let i = 0; i < LEADS; i++) {
  const started = performance.now()
  const res = await h.request('POST', '/api/v1/leads/inbound', { key: ws.key, body: { email: 'grow@example.com', metadata: { [`field_${i}`]: field } } })
  await res.arrayBuffer()
  times.push(performance.now() - started)
  statuses.add(res.status)
}
const otherStarted = performance.now()
for (let i = 0; i < 10; i++) await h.pushLead(other.key, { email: `other${i}@example.com` })
const otherMs = (performance.now() - otherStarted) / 10
const page = await (await h.request('GET', '/api/v1/contacts?limit=200', { key: ws.key })).arrayBuffer()
const stored = h.db.$client.query('select coalesce(max(length(metadata)), 0) as bytes from contacts where workspace_id = ?').get(ws.id) as { bytes: number }
console.log(
  JSON.stringify({
    field_kb: FIELD_KB,
    statuses: [...statuses],
    first_lead_ms: Math.round(times[0]!),
    last_lead_ms: Math.round(times.at(-1)!),
    other_tenant_lead_ms: Math.round(otherMs),
    contact_metadata_bytes: stored.bytes,
    contacts_page_bytes: page.byteLength,
    rss_mb: Math.round(process.memoryUsage().rss / 1e6),
  }),
)
h.close()
