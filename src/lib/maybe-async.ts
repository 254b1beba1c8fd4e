/** Values that are there at once on the fast path and come later on a slow one. */
export type MaybePromise<T> = T | Promise<T>

/** Runs `then` on a value that may still be coming: synchronously when it is already there, so the sync path pays no tick. */
export function after<T, R>(value: MaybePromise<T>, then: (value: T) => R): MaybePromise<Awaited<R>> | R {
  return value instanceof Promise ? (value.then(then) as Promise<Awaited<R>>) : then(value)
}
