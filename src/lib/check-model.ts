/**
 * Checks a value against a route's TypeBox model outside a route, so the dashboard's forms are held to
 * exactly what the API's schemas enforce, with the same 422 field errors.
 */
import type { Static, TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ApiError, type FieldError } from '../errors'
import { describeValueError } from '../errors/problem'

/** The value, typed, when it matches the model; else a 422 naming each failing path (the first message per path). */
export function checkModel<T extends TSchema>(schema: T, value: unknown, what = 'form'): Static<T> {
  if (Value.Check(schema, value)) return value
  const byPath = new Map<string, string>()
  for (const error of Value.Errors(schema, value)) if (!byPath.has(error.path || '/')) byPath.set(error.path || '/', describeValueError(error))
  const errors: FieldError[] = [...byPath].map(([path, message]) => ({ path, message }))
  throw new ApiError('validation_failed', `The ${what} is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors)
}
