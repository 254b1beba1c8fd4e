/** Contacts import: the upload form (file, column mapping, dry run) and the report of an import. */
import type { ContactModel } from '../../modules/contacts/model'
import { IMPORT_FIELDS, MAX_IMPORT_ROWS } from '../../modules/contacts/import'
import { MAX_CSV_BODY_BYTES } from '../../plugins/body'
import { html, type Html } from '../html'
import { csrfField, table, type Viewer } from '../layout'

/** The upload form. Without JavaScript it posts and the report page follows; with it, upload progress shows meanwhile. */
export function importForm(viewer: Viewer): Html {
  return html`<form class="card stack" method="post" action="${viewer.base}/contacts/import" enctype="multipart/form-data" data-upload>
  ${csrfField(viewer)}
  <p>A CSV file (UTF-8, at most ${MAX_CSV_BODY_BYTES / 1024 / 1024} MiB and ${MAX_IMPORT_ROWS.toLocaleString('en')} rows), header row first.
    Columns named email, phone, first_name, last_name and source are read as those fields; every other column is kept in metadata.
    Each row is merged into the contact with its email (else phone), as new leads are.</p>
  <label>File <input type="file" name="file" accept=".csv,text/csv" required></label>
  <details>
    <summary>Column mapping</summary>
    <p class="muted">The header of the column to read each field from, when it is not named like the field.</p>
    ${IMPORT_FIELDS.map((field) => html`<label>${field} <input name="column_${field}" maxlength="200" placeholder="${field}"></label>`)}
  </details>
  <label>Source of rows without one <input name="source" maxlength="100" value="import"></label>
  <label><input type="checkbox" name="dry_run" value="true" checked> Dry run: check every row, store nothing</label>
  <label><input type="checkbox" name="emit_events" value="true"> Emit lead.created for each row (sends webhooks)</label>
  <progress hidden max="100" value="0" aria-label="Upload"></progress>
  <p><button type="submit" class="primary">Import</button></p>
</form>`
}

/** What an import did (or, on a dry run, would do), with the rows that failed. */
export function importReportView(viewer: Viewer, report: ContactModel.importReport): Html {
  const errors = report.errors.map(
    (e) => html`<tr>
  <td class="num">${e.row}</td>
  <td>${e.field ?? '(row)'}</td>
  <td>${e.message}</td>
</tr>`,
  )
  return html`<section class="card">
  <p>${report.dry_run ? 'Dry run: nothing was stored.' : 'Imported.'} ${report.rows} rows read, ${report.imported} ${report.dry_run ? 'would be imported' : 'imported'}, ${report.failed} failed.</p>
  ${
    report.dry_run
      ? ''
      : html`<p>${report.contacts_created} new contacts, ${report.contacts_updated} rows merged into known contacts; lead.created ${report.events_emitted ? 'emitted' : 'not emitted'}.</p>`
  }
  <p class="muted">Columns: ${IMPORT_FIELDS.map((f) => `${f} ← ${report.columns[f] ?? '–'}`).join(', ')}; metadata: ${report.columns.metadata.join(', ') || '–'}.</p>
</section>
${report.errors.length ? html`<h2>Rows that failed${report.errors_truncated ? ` (the first ${report.errors.length} of ${report.failed})` : ''}</h2>` : ''}
${report.errors.length ? table(['Row', 'Field', 'Problem'], errors, '') : ''}
<p class="actions"><a class="button" href="${viewer.base}/contacts/import">Import another file</a> <a class="button" href="${viewer.base}/contacts">Contacts</a></p>`
}
