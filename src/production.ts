/**
 * Imported first by the entry point, before Elysia loads: Elysia reads NODE_ENV once, and in
 * development mode it builds a pretty-printed copy of the whole input for every validation
 * error — over a second of CPU for a hostile 1 MiB body. The test suite runs in production mode
 * too (test/preload.ts).
 */
process.env.NODE_ENV ??= 'production'
