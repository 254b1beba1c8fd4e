/**
 * The ingest baseline: the bare minimum on the same runtime — Bun.serve parses the JSON body,
 * inserts one row into bun:sqlite (WAL) and answers {id, status}. Also answers a plain first-page
 * read, the list baseline. Usage: [PORT=N] bun test/bench/baseline-server.ts DB_FILE (prints its URL).
 */
import { Database } from 'bun:sqlite'

const db = new Database(process.argv[2]!, { create: true })
db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000')
db.exec('CREATE TABLE IF NOT EXISTS baseline_leads (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL)')
const insert = db.prepare('INSERT INTO baseline_leads (id, body, created_at) VALUES (?, ?, ?)')
const hasContacts = db.query("SELECT 1 FROM sqlite_master WHERE name = 'contacts'").get() !== null
const firstPage = hasContacts ? db.prepare('SELECT * FROM contacts WHERE workspace_id = ? ORDER BY seq DESC LIMIT 50') : null

const server = Bun.serve({
  port: Number(process.env.PORT ?? 0),
  hostname: '127.0.0.1',
  async fetch(req) {
    const url = new URL(req.url)
    if (req.method === 'POST') {
      const body = await req.json()
      const id = crypto.randomUUID()
      insert.run(id, JSON.stringify(body), Date.now())
      return Response.json({ id, status: 'created' }, { status: 201 })
    }
    if (url.pathname === '/healthz') return new Response('ok')
    if (firstPage) return Response.json({ data: firstPage.all(url.searchParams.get('workspace')) })
    return new Response('not found', { status: 404 })
  },
})
console.log(`listening on http://127.0.0.1:${server.port}`)
process.on('SIGTERM', () => {
  server.stop(true)
  db.close()
  process.exit(0)
})
