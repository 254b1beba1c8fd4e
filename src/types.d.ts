/** Bun imports SQL files as text (`with { type: 'text' }`); this tells TypeScript. */
declare module '*.sql' {
  const text: string
  export default text
}

/** Bun imports Swagger UI's files `with { type: 'file' }` as the path of the (embedded) file. */
declare module 'swagger-ui-dist/*' {
  const path: string
  export default path
}
