#!/usr/bin/env node
// Regenerates the configuration and metrics references in docs/configuration.md from the code:
//   npm run docs:options            print both tables
//   npm run docs:options -- --write rewrite them in docs/configuration.md between their markers
// test/docs/readme.test.ts fails when docs/configuration.md is out of date.
import { readFileSync, writeFileSync } from 'node:fs'
import { renderMarkdown } from '../dist/config.js'
import { renderMetricsMarkdown } from '../dist/admin/metrics-doc.js'

const reference = new URL('../docs/configuration.md', import.meta.url)
const blocks = { options: renderMarkdown(), metrics: await renderMetricsMarkdown() }

if (process.argv.includes('--write')) {
  let text = readFileSync(reference, 'utf8')
  for (const [name, body] of Object.entries(blocks)) {
    const re = new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(<!-- ${name}:end -->)`)
    if (!re.test(text)) throw new Error(`docs/configuration.md has no <!-- ${name}:start --> … <!-- ${name}:end --> block`)
    text = text.replace(re, `$1${body}\n$2`)
  }
  writeFileSync(reference, text)
  console.log('docs/configuration.md updated')
} else {
  for (const body of Object.values(blocks)) console.log(`${body}\n`)
}
