/** How CLI commands print: a JSON document with --json, else aligned text for people. */
export interface Output {
  json: boolean
  /** Prints data as JSON, or the human text. */
  result(data: unknown, human: () => string): void
}

/** An Output printing JSON or human text. */
export function createOutput(json: boolean): Output {
  return {
    json,
    result(data, human) {
      console.log(json ? JSON.stringify(data, null, 2) : human())
    },
  }
}

/** Aligned columns for lists. */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return '(none)'
  const cell = (v: unknown) => (v == null ? '-' : Array.isArray(v) ? v.join(',') : String(v))
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)))
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n')
}

/** An error the CLI reports in one line and exits 1 (2 for usage errors). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}
