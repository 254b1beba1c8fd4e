/**
 * The Dockerfile, read as text: no Docker engine runs in CI, so what the image promises (a pinned
 * builder, production dependencies only, a fixed uid and gid, OCI labels) is checked here. That the
 * build needs no devDependencies was checked by running `bun install --production && bun run build`.
 */
import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }

/** The instructions, continuation lines joined and comments dropped. */
const instructions = DOCKERFILE.replace(/\\\n\s*/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))

const fromLines = instructions.filter((line) => line.startsWith('FROM '))

describe('Dockerfile', () => {
  test('the builder is the exact Bun release in use, not a moving tag', () => {
    const builder = fromLines.find((line) => line.includes('oven/bun'))!
    expect(builder).toBe(`FROM oven/bun:${Bun.version} AS build`)
    for (const line of fromLines) expect(line).not.toMatch(/:latest\b|oven\/bun:1(\s|$)/)
  })

  test('the build installs production dependencies only, from the lockfile', () => {
    expect(instructions).toContain('RUN bun install --frozen-lockfile --production')
    expect(instructions.filter((line) => line.startsWith('RUN bun install'))).toHaveLength(1)
  })

  test('the runtime user has a fixed uid and gid, owns /data, and the image runs as it', () => {
    const user = instructions.find((line) => line.includes('useradd'))!
    expect(user).toContain('groupadd --system --gid 10001 askad')
    expect(user).toContain('--uid 10001 --gid 10001')
    expect(user).toContain('chown 10001:10001 /data')
    expect(instructions).toContain('USER 10001:10001')
  })

  test('OCI labels name the image, its licence and the version of package.json', () => {
    const labels = instructions.find((line) => line.startsWith('LABEL '))!
    for (const key of ['title', 'description', 'source', 'licenses', 'version']) expect(labels).toContain(`org.opencontainers.image.${key}=`)
    expect(labels).toContain('org.opencontainers.image.licenses="MIT"')
    expect(instructions).toContain(`ARG VERSION=${PACKAGE.version}`)
  })

  test('a bind mount and a private CA are explained where the image is defined', () => {
    expect(DOCKERFILE).toContain('chown 10001:10001')
    expect(DOCKERFILE).toContain('NODE_EXTRA_CA_CERTS')
  })
})
