/** The dashboard's escape helper: the one shared with every page askad renders (lib/html.ts). */
export * from '../lib/html'
