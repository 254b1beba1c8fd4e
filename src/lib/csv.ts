/**
 * CSV after RFC 4180: CRLF line ends, a field quoted when it holds a comma, quote, CR or LF, quotes
 * doubled. Export cells are formula-injection safe (OWASP): a cell starting with `=`, `+`, `-`, `@`,
 * tab or CR gets a single quote in front, inside quotes, so spreadsheets show it as text; the import
 * parser takes that quote off again, so an export imports back unchanged.
 */

/** What a spreadsheet would run as a formula when a cell starts with it. */
const FORMULA_START = /^[=+\-@\t\r]/

/** A field that must be quoted. */
const NEEDS_QUOTES = /[",\r\n]/

/** UTF-8 byte order mark: Excel reads a CSV as UTF-8 only when it starts with one. */
export const UTF8_BOM = '\uFEFF'

/** One export cell: null is empty, objects are JSON, a formula start is defused. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return ''
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value)
  if (FORMULA_START.test(text)) return `"'${text.replaceAll('"', '""')}"`
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

/** One CSV record with its CRLF. */
export function csvLine(values: unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`
}

/** An export cell's defusing quote taken off: `'=1` → `=1`; any other text as it is. */
export function undefuse(cell: string): string {
  return cell.length > 1 && cell[0] === "'" && FORMULA_START.test(cell.slice(1)) ? cell.slice(1) : cell
}

/**
 * A CSV file as a stream: the header line, then each page's lines as the pages come (one page in
 * memory at a time). `pages` is asked for the next page only when the client has read the last one.
 */
export function csvStream<T>(header: string[], pages: AsyncIterator<T[]>, toLine: (item: T) => unknown[], bom: boolean): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode((bom ? UTF8_BOM : '') + csvLine(header)))
    },
    async pull(controller) {
      const next = await pages.next()
      if (next.done) return controller.close()
      controller.enqueue(encoder.encode(next.value.map((item) => csvLine(toLine(item))).join('')))
    },
    async cancel() {
      await pages.return?.()
    },
  })
}

/** A CSV record read by `parseCsv`: its fields and the line it starts on (1-based). */
export interface CsvRecord {
  fields: string[]
  line: number
}

/** Why a CSV text could not be read on, and where. */
export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message)
  }
}

/**
 * The records of a CSV text, one at a time (RFC 4180, also LF-only line ends; a leading BOM is
 * skipped; blank lines are skipped). A quote inside an unquoted field is kept as text; an unclosed
 * quoted field is a CsvSyntaxError at its line.
 */
export function* parseCsv(text: string): Generator<CsvRecord> {
  let i = text.startsWith(UTF8_BOM) ? 1 : 0
  let line = 1
  const n = text.length
  while (i < n) {
    const start = line
    const fields: string[] = []
    for (;;) {
      let value = ''
      if (text[i] === '"') {
        i++
        for (;;) {
          const quote = text.indexOf('"', i)
          if (quote === -1) throw new CsvSyntaxError(start, 'a quoted field is not closed')
          value += text.slice(i, quote)
          line += countNewlines(text, i, quote)
          i = quote + 1
          if (text[i] === '"') {
            value += '"'
            i++
          } else break
        }
        // Text between the closing quote and the next separator is kept, as spreadsheets do.
        const end = fieldEnd(text, i)
        value += text.slice(i, end)
        i = end
      } else {
        const end = fieldEnd(text, i)
        value = text.slice(i, end)
        i = end
      }
      fields.push(value)
      if (text[i] === ',') {
        i++
        continue
      }
      break
    }
    if (text[i] === '\r') i++
    if (text[i] === '\n') i++
    line++
    if (fields.length === 1 && fields[0] === '') continue
    yield { fields, line: start }
  }
}

/** Where an unquoted field starting at `from` ends: the next comma, CR or LF. */
function fieldEnd(text: string, from: number): number {
  let i = from
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c === 0x2c || c === 0x0d || c === 0x0a) break
    i++
  }
  return i
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0
  for (let at = text.indexOf('\n', from); at !== -1 && at < to; at = text.indexOf('\n', at + 1)) count++
  return count
}

/** A download's file name: what it holds and the date, e.g. contacts-2026-11-01.csv. */
export function csvFileName(what: string, now: number): string {
  return `${what}-${new Date(now).toISOString().slice(0, 10)}.csv`
}

/** The response of a CSV download: UTF-8 text/csv, saved as `filename`, never cached. */
export function csvResponse(body: ReadableStream<Uint8Array>, filename: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    headers: {
      ...headers,
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${filename}"`,
      'cache-control': 'no-store',
    },
  })
}
