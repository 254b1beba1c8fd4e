/** Time-ordered UUIDs (v7) for every row: sortable, index-friendly, still plain UUIDs for clients. */
export function newId(): string {
  return Bun.randomUUIDv7()
}

/** Event ids as Standard Webhooks shows them (`msg_…`); stable across every retry. */
export function newEventId(): string {
  return `msg_${Bun.randomUUIDv7().replaceAll('-', '')}`
}
