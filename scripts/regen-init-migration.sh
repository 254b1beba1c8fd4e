#!/usr/bin/env bash
# Until the first release, the schema is one migration: regenerate it from src/db/schema.ts.
# After a release, use `bun run db:generate` to add a new migration instead.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf drizzle
bunx drizzle-kit generate --name init
bun scripts/embed-migrations.ts
