/**
 * CSV import of contacts: each row stored as a lead of channel `import` through the leads store's
 * import chunks, which store a lead exactly as ingest does (the same validation, `toPerson`, and
 * the same contact matching and merge), so dedupe rules cannot drift. The file is read twice: once
 * to check its syntax and size before anything is stored, once to store it in chunks of
 * IMPORT_CHUNK_ROWS rows per transaction. The import is recorded in the audit log, and the
 * Idempotency-Key answer is stored, in the last chunk's transaction.
 */
import type { AuditStoreDeps } from '../audit/store'
import { ApiError, invalid } from '../../errors'
import { CsvSyntaxError, parseCsv, undefuse, type CsvRecord } from '../../lib/csv'
import { toPerson, type LeadDeps } from '../leads/service'
import { leadsStore, type ImportedLead, type NewLead } from '../leads/store'
import type { ContactModel } from './model'

/** Most data rows one import takes (with the body limit of 50 MiB). */
export const MAX_IMPORT_ROWS = 200_000

/** Rows stored per transaction: short lock holds on SQLite, bounded memory. */
export const IMPORT_CHUNK_ROWS = 500

/**
 * How long an import's connection may stay silent while its rows are stored: the server's 10 s
 * (Bun's default idle timeout) would drop the caller mid-import, before the report, while the import
 * went on and committed. 100,000 rows take about 10 s on SQLite and several times that on PostgreSQL,
 * so the bound is generous; the import itself is bounded by MAX_IMPORT_ROWS.
 */
export const IMPORT_IDLE_TIMEOUT_S = 900

/** Row errors a report lists; all are counted. */
export const MAX_REPORTED_ERRORS = 100

/** The fields a column can be mapped to, each read by default from the column of the same name. */
export const IMPORT_FIELDS = ['email', 'phone', 'first_name', 'last_name', 'source'] as const
export type ImportField = (typeof IMPORT_FIELDS)[number]

/** Columns of our own CSV exports that an import cannot set: skipped rather than kept as metadata. */
export const EXPORT_ONLY_COLUMNS = [
  'id',
  'contact_id',
  'channel',
  'status',
  'deal_id',
  'context',
  'lead_count',
  'last_source',
  'created_at',
  'updated_at',
  'converted_at',
]

/** The column of our contacts export read as `source` when the file has no `source` column. */
const EXPORTED_SOURCE_COLUMN = 'first_source'

/** A column holding a JSON object whose keys join the row's metadata (our exports write one). */
const METADATA_COLUMN = 'metadata'

export interface ImportOptions {
  dryRun: boolean
  emitEvents: boolean
  /** Source of rows without a source cell. */
  defaultSource: string
  /** Column names per field, overriding the defaults. */
  columns: Partial<Record<ImportField, string>>
}

/** Where each field is read from: a column index, or null. */
type Mapping = Record<ImportField, number | null>

/** An import's deps: the leads store's, the audit log's, and (from answerWrite) the request's Idempotency-Key answer. */
export type ImportDeps = LeadDeps & AuditStoreDeps

/** Imports a CSV file of contacts (or only checks it, on a dry run); returns the report. */
export async function importContacts(deps: ImportDeps, workspaceId: string, csv: string | null, options: ImportOptions): Promise<ContactModel.importReport> {
  const records = readAll(csv)
  const header = records.next().value as CsvRecord
  const names = header.fields.map((name) => name.trim())
  const mapping = mapColumns(names, options.columns)
  const metadataColumns = names.flatMap((name, i) => (isMetadataColumn(name, i, mapping) ? [i] : []))
  const report: ContactModel.importReport = {
    object: 'contact_import',
    dry_run: options.dryRun,
    rows: 0,
    imported: 0,
    failed: 0,
    contacts_created: options.dryRun ? null : 0,
    contacts_updated: options.dryRun ? null : 0,
    events_emitted: options.emitEvents && !options.dryRun,
    columns: {
      ...(Object.fromEntries(IMPORT_FIELDS.map((field) => [field, mapping[field] === null ? null : names[mapping[field]!]!])) as Record<
        ImportField,
        string | null
      >),
      metadata: metadataColumns.map((i) => names[i]!),
    },
    errors: [],
    errors_truncated: false,
  }
  const now = deps.clock.now()
  // Only the last chunk's transaction stores the request's answer: it is the one that ends the import.
  const chunkDeps: ImportDeps = { ...deps, storeAnswer: undefined, storePgAnswer: undefined }
  let chunk: NewLead[] = []
  for (const record of records) {
    report.rows++
    const lead = rowLead(record, report.rows + 1, names, mapping, metadataColumns, options.defaultSource, report)
    if (!lead) continue
    chunk.push(lead)
    if (chunk.length === IMPORT_CHUNK_ROWS) {
      if (!options.dryRun)
        tally(report, await leadsStore(chunkDeps).importChunk(workspaceId, now, chunk, { emitEvents: options.emitEvents }, (imported) => imported))
      else report.imported += chunk.length
      chunk = []
    }
  }
  if (options.dryRun) {
    report.imported += chunk.length
    return report
  }
  const details = { rows: report.rows, imported: report.imported + chunk.length, failed: report.failed, emit_events: options.emitEvents }
  const audit = { workspaceId, action: 'contacts.imported' as const, target: { type: 'contact', id: null }, details }
  // The work may run again (a retried transaction): it counts into a copy, never into the report itself.
  return leadsStore(deps).importChunk(workspaceId, now, chunk, { emitEvents: options.emitEvents, audit }, (imported) =>
    tally(structuredClone(report), imported),
  )
}

/** Adds a stored chunk to the report's counts; returns the report. */
function tally(report: ContactModel.importReport, imported: ImportedLead[]): ContactModel.importReport {
  report.imported += imported.length
  for (const row of imported) {
    if (row.contactCreated) report.contacts_created!++
    else report.contacts_updated!++
  }
  return report
}

/** Every record of the file, after one pass that checks its syntax and size (so a bad file stores nothing). */
function readAll(csv: string | null): Generator<CsvRecord> {
  if (csv === null || csv.trim() === '') throw invalid('body', 'the file is empty: send a header row, then one row per contact')
  let count = 0
  try {
    for (const _ of parseCsv(csv)) {
      if (++count > MAX_IMPORT_ROWS + 1)
        throw new ApiError('payload_too_large', `An import takes at most ${MAX_IMPORT_ROWS.toLocaleString('en')} rows; split the file.`)
    }
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw invalid('body', `line ${error.line}: ${error.message}`)
    throw error
  }
  return parseCsv(csv)
}

/** Which column each field is read from: the mapped name, else the column named like the field (any case). */
function mapColumns(names: string[], columns: Partial<Record<ImportField, string>>): Mapping {
  const lower = names.map((name) => name.toLowerCase())
  const seen = new Set<string>()
  for (const name of lower) {
    if (name === '') throw invalid('body', 'every column of the header row needs a name')
    if (seen.has(name)) throw invalid('body', `the header row names the column '${name}' twice`)
    seen.add(name)
  }
  const mapping = {} as Mapping
  for (const field of IMPORT_FIELDS) {
    const wanted = columns[field]
    if (wanted !== undefined) {
      const at = lower.indexOf(wanted.trim().toLowerCase())
      if (at === -1) throw invalid(`query.column_${field}`, `the header row has no column '${wanted}'`)
      mapping[field] = at
    } else {
      const at = lower.indexOf(field)
      mapping[field] = at === -1 ? null : at
    }
  }
  if (mapping.source === null && columns.source === undefined) {
    const at = lower.indexOf(EXPORTED_SOURCE_COLUMN)
    if (at !== -1) mapping.source = at
  }
  if (mapping.email === null && mapping.phone === null)
    throw invalid('body', "the header row needs an email or a phone column (name it 'email' or 'phone', or map it with column_email / column_phone)")
  return mapping
}

function isMetadataColumn(name: string, index: number, mapping: Mapping): boolean {
  if (Object.values(mapping).includes(index)) return false
  const lower = name.toLowerCase()
  return !EXPORT_ONLY_COLUMNS.includes(lower) && lower !== EXPORTED_SOURCE_COLUMN
}

/** One data row as a lead, or null after noting its error in the report. `row` is the spreadsheet's row number (the header is 1). */
function rowLead(
  record: CsvRecord,
  row: number,
  names: string[],
  mapping: Mapping,
  metadataColumns: number[],
  defaultSource: string,
  report: ContactModel.importReport,
): NewLead | null {
  const fail = (field: string | null, message: string) => {
    report.failed++
    if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push({ row, line: record.line, field, message })
    else report.errors_truncated = true
    return null
  }
  if (record.fields.length !== names.length) return fail(null, `has ${record.fields.length} fields; the header row has ${names.length}`)
  const cells = record.fields.map(undefuse)
  const cell = (field: ImportField) => (mapping[field] === null ? undefined : cells[mapping[field]!])
  const metadata: Record<string, unknown> = {}
  for (const i of metadataColumns) {
    const value = cells[i]!
    if (value === '') continue
    if (names[i]!.toLowerCase() !== METADATA_COLUMN) {
      metadata[names[i]!] = value
      continue
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(value)
    } catch {
      return fail(METADATA_COLUMN, 'is not JSON')
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail(METADATA_COLUMN, 'must be a JSON object')
    Object.assign(metadata, parsed)
  }
  try {
    const person = toPerson({
      email: cell('email'),
      phone: cell('phone'),
      firstName: cell('first_name'),
      lastName: cell('last_name'),
      source: cell('source') || defaultSource,
      metadata,
    })
    return { channel: 'import', person, context: null }
  } catch (error) {
    if (!(error instanceof ApiError)) throw error
    const problem = error.errors?.[0]
    return fail(problem ? problem.path.replace(/^\//, '') || null : null, problem?.message ?? error.detail)
  }
}
