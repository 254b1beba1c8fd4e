/** OpenAPI document and interactive docs, served offline (not built yet). */
import { Elysia } from 'elysia'

export const docs = () => new Elysia({ name: 'docs' })
