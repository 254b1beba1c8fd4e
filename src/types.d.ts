/** Bun imports SQL files as text (`with { type: 'text' }`); this tells TypeScript. */
declare module '*.sql' {
  const text: string
  export default text
}
