// The README's reference tables are generated from the code; this fails when they drift.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { renderMarkdown, OPTIONS } from '../../src/config.js'
import { renderMetricsMarkdown } from '../../src/admin/metrics-doc.js'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

function block(name: string): string | undefined {
  return new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(readme)?.[1]
}

t.test('configuration reference matches the option table (npm run docs:options -- --write)', async (t) => {
  t.equal(block('options'), renderMarkdown())
  for (const o of OPTIONS) t.ok(readme.includes(`--${o.flag}`), `--${o.flag} documented`)
})

t.test('metrics reference matches the registry (npm run docs:options -- --write)', async (t) => {
  t.equal(block('metrics'), await renderMetricsMarkdown())
})

t.test('quick start shows the two commands', async (t) => {
  t.match(readme, /npm ci && npm run demo/)
  t.match(readme, /^npm test\b/m)
})
