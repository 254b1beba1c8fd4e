import { defineConfig } from 'drizzle-kit'

/** The PostgreSQL migration set (issue 14); drizzle.config.ts is SQLite's. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/pg/schema.ts',
  out: './drizzle/pg',
})
