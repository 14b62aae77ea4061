// The generated reference tables in docs/configuration.md come from the code; this fails when
// they drift. The README keeps the two commands a newcomer runs first.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { renderMarkdown, OPTIONS } from '../../src/config.js'
import { renderMetricsMarkdown } from '../../src/admin/metrics-doc.js'

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8')
const readme = read('README.md')
const reference = read('docs/configuration.md')

function block(text: string, name: string): string | undefined {
  return new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(text)?.[1]
}

t.test('configuration reference matches the option table (npm run docs:options -- --write)', async (t) => {
  t.equal(block(reference, 'options'), renderMarkdown())
  for (const o of OPTIONS) t.ok(reference.includes(`--${o.flag}`), `--${o.flag} documented`)
})

t.test('metrics reference matches the registry (npm run docs:options -- --write)', async (t) => {
  t.equal(block(reference, 'metrics'), await renderMetricsMarkdown())
})

t.test('the README quick start shows the two commands and links the reference', async (t) => {
  t.match(readme, /npm ci && npm run demo/)
  t.match(readme, /^npm test\b/m)
  t.match(readme, /\(docs\/configuration\.md\)/)
})
