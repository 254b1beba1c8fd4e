import pkg from '../package.json'

/** askad's version, from package.json (embedded at build time). */
export const VERSION: string = pkg.version
