#!/usr/bin/env node
// node scripts/supported-node.mjs SCRIPT [ARGS...]: run SCRIPT with this node when its line is
// one drainpipe supports (package.json "engines"), else with Node FALLBACK_LINE brought by
// scripts/with-node.sh from the npm registry (installed once, then reused).
//
// It is what keeps the README's commands (`npm ci && npm run demo`, `npm test`) working on a
// machine whose node is older than the supported lines (Node 20, end of life in April 2026):
// npm and tsc run fine there, and only what runs drainpipe itself switches runtime. Plain
// JavaScript, no imports beyond node: builtins, so any node that runs npm can run it.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// The line brought when this node is too old: the one the image uses (Dockerfile NODE_IMAGE).
const FALLBACK_LINE = '26'

const here = fileURLToPath(new URL('.', import.meta.url))
const range = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node
const [major, minor] = process.versions.node.split('.').map(Number)

// engines.node is a union of caret ranges and one open-ended ">=", e.g.
// "^22.12.0 || ^24.0.0 || >=26.0.0": enough to check without a semver library.
const satisfies = range.split('||').some((part) => {
  const m = /^\s*(\^|>=)(\d+)\.(\d+)\.\d+\s*$/.exec(part)
  if (!m) throw new Error(`supported-node: cannot read engines.node part '${part.trim()}'`)
  const [wantMajor, wantMinor] = [Number(m[2]), Number(m[3])]
  if (m[1] === '^') return major === wantMajor && minor >= wantMinor
  return major > wantMajor || (major === wantMajor && minor >= wantMinor)
})

const [script, ...args] = process.argv.slice(2)
if (!script) {
  console.error('usage: node scripts/supported-node.mjs SCRIPT [ARGS...]')
  process.exit(2)
}
if (!satisfies) {
  console.error(
    `drainpipe supports Node ${range}; this is ${process.version}: running ${script} with Node ${FALLBACK_LINE} (scripts/with-node.sh)`,
  )
}
const run = satisfies
  ? spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' })
  : spawnSync('bash', [`${here}with-node.sh`, FALLBACK_LINE, 'node', script, ...args], { stdio: 'inherit' })
if (run.error) throw run.error
process.exit(run.status ?? 1)
