/** The dashboard's stylesheet and script are imported `with { type: 'text' }`, so they are embedded in the executable. */
declare module '*.css' {
  const text: string
  export default text
}

declare module '*/dashboard.js' {
  const text: string
  export default text
}
