/** Hygiene of short text fields (emails, names, phones, sources, titles): no control characters, stored as NFC. */
import { invalid } from './errors'

/** C0 controls and DEL, tab and line breaks included: none belongs in a one-line field. */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/

/** The value in Unicode NFC (so 'é' typed two ways matches); 422 at `path` when it holds a control character. */
export function singleLine(value: string, path: string): string {
  if (CONTROL_CHARACTERS.test(value)) throw invalid(path, 'must not contain control characters (U+0000–U+001F, U+007F; tabs and line breaks included)')
  return value.normalize('NFC')
}
