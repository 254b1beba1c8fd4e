/**
 * Imported first by the entry point, before Elysia loads: Elysia reads NODE_ENV once, and in
 * development mode it builds a pretty-printed copy of the whole input for every validation
 * error — over a second of CPU for a hostile 1 MiB body. Tests import createApp directly and
 * keep Elysia's detailed development errors.
 */
process.env.NODE_ENV ??= 'production'
