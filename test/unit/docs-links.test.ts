/**
 * Every relative link in README.md and docs/ leads somewhere: the file exists and, for `#anchor`
 * links, the target has a heading with that anchor (GitHub's rule for turning headings into ids).
 */
import { describe, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { useTestTimeout } from '../timeout'

useTestTimeout()

const ROOT = join(import.meta.dir, '..', '..')

const pages = ['README.md', ...new Bun.Glob('docs/**/*.md').scanSync({ cwd: ROOT })].sort()

/** The text a reader sees as prose: fenced code blocks and inline code never hold links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '')
}

/** The ids GitHub gives a page's headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  for (const [, text] of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = text!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}

/** Relative link targets of a page: `[text](target)`, leaving out web addresses and mail links. */
function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
}

describe('links in README.md and docs/', () => {
  test('there are pages to check', () => {
    expect(pages).toContain('README.md')
    expect(pages).toContain('docs/README.md')
  })

  for (const page of pages) {
    test(`${page}: every relative link and #anchor resolves`, () => {
      const text = readFileSync(join(ROOT, page), 'utf8')
      const broken: string[] = []
      for (const link of relativeLinks(text)) {
        const [path = '', anchor] = link.split('#', 2)
        const target = path === '' ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), decodeURI(path))
        const name = relative(ROOT, target)
        if (!existsSync(target)) {
          broken.push(`${link}: no file ${name}`)
          continue
        }
        if (anchor === undefined) continue
        if (!name.endsWith('.md')) {
          broken.push(`${link}: an anchor into a file that is not Markdown`)
          continue
        }
        if (!headingAnchors(readFileSync(target, 'utf8')).has(anchor)) broken.push(`${link}: no heading #${anchor} in ${name}`)
      }
      expect(broken).toEqual([])
    })
  }
})

describe('the anchor rule', () => {
  test('matches what GitHub makes of our kinds of headings', () => {
    const anchors = headingAnchors(
      '# A\n## Erasure (GDPR Art. 17)\n### Browser capture (`POST /leads/capture`)\n## Docker\n## Docker\n```\n# not a heading\n```\n',
    )
    expect([...anchors]).toEqual(['a', 'erasure-gdpr-art-17', 'browser-capture-post-leadscapture', 'docker', 'docker-1'])
  })
})
