#!/usr/bin/env node
// Regenerates docs/inject.md's annotation table from the settings table (src/inject/options.ts,
// which includes src/config.ts's OPTIONS):
//   npm run docs:annotations            print it
//   npm run docs:annotations -- --write rewrite it in docs/inject.md between its markers
// test/inject/docs.test.ts fails when docs/inject.md is out of date.
import { readFileSync, writeFileSync } from 'node:fs'
import { renderAnnotationTable } from '../dist/inject/options.js'

const doc = new URL('../docs/inject.md', import.meta.url)
const body = renderAnnotationTable()
if (process.argv.includes('--write')) {
  const text = readFileSync(doc, 'utf8')
  const re = /(<!-- annotations:start -->\n)[\s\S]*?(<!-- annotations:end -->)/
  if (!re.test(text)) throw new Error('docs/inject.md has no <!-- annotations:start --> … <!-- annotations:end --> block')
  writeFileSync(doc, text.replace(re, `$1${body}\n$2`))
  console.log('docs/inject.md updated')
} else console.log(body)
