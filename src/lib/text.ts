/** Hygiene of short text fields (emails, names, phones, sources, titles): no control characters, stored as NFC. */
import { invalid } from '../errors'

/**
 * What no one-line field may hold: C0 and C1 controls and DEL (tab and line breaks included), the
 * Unicode line and paragraph separators, and the bidirectional overrides and isolates, which can
 * make a stored name display as something else.
 */
const CONTROL_CHARACTERS = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u

/**
 * The value in Unicode NFC (so 'é' typed two ways matches); 422 at `path` when it holds a control
 * character or a lone surrogate (which would be stored as U+FFFD, so two different inputs could
 * become one contact).
 */
export function singleLine(value: string, path: string): string {
  if (CONTROL_CHARACTERS.test(value)) {
    throw invalid(path, 'must not contain control characters (C0/C1 controls, DEL, tabs, line breaks, U+2028/U+2029 or bidirectional overrides)')
  }
  if (!value.isWellFormed()) throw invalid(path, 'must be well-formed Unicode (it holds a lone surrogate)')
  return value.normalize('NFC')
}
