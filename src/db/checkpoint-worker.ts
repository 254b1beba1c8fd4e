/**
 * The checkpoint thread (checkpointer.ts): its own connection to the database, on which it copies
 * WAL frames into the database file when asked, so the serving thread does not.
 */
import { Database } from 'bun:sqlite'
import type { CheckpointReply, CheckpointRequest } from './checkpointer'

declare const self: Worker

let db: Database | undefined

self.onmessage = (event: MessageEvent<CheckpointRequest>) => {
  const request = event.data
  if (request.type === 'open') {
    db = new Database(request.path, { readwrite: true, create: false })
    // Syncs the WAL before copying and the database file after, as the serving connection's own checkpoints do.
    db.exec('PRAGMA synchronous = NORMAL')
    return reply({ type: 'opened' })
  }
  if (request.type === 'close') {
    db?.close()
    db = undefined
    return reply({ type: 'closed' })
  }
  try {
    // PASSIVE: copies what it can without waiting for the serving thread's writes (or blocking them).
    const row = db!.query<{ busy: number; log: number; checkpointed: number }, []>('PRAGMA wal_checkpoint(PASSIVE)').get()!
    reply({ type: 'checkpointed', frames: row.log, copied: row.checkpointed })
  } catch (error) {
    // Another checkpoint running (the serving thread's fallback) is normal; anything else is reported.
    reply({ type: 'failed', message: (error as Error).message })
  }
}

function reply(message: CheckpointReply): void {
  postMessage(message)
}
