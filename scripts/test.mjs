#!/usr/bin/env node
// `npm test`: build, run the tap suite, and close with the one line CI reads:
// `N passed, N failed, N skipped`. Before it, every skipped test is listed with its reason
// (a test skips only when something it needs is missing, such as HAProxy).
//
// DRAINPIPE_TEST_REQUIRE=haproxy,curl (set by .ci/run): a test skipped because one of those
// is missing fails the run; CI installs them, so such a skip means the suite lost coverage.
//
// The counts come from tap's own closing summary (`# { total, pass, fail, skip }`), read from
// its output as it streams through; the skip reasons from the result files this run wrote.
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' })
if (build.status !== 0) {
  console.log('0 passed, 1 failed, 0 skipped')
  process.exit(build.status ?? 1)
}

const startedAt = Date.now()
const reporter = process.env.CI ? 'tap' : 'terse'
const tap = spawn('npx', ['tap', '-R', reporter, ...process.argv.slice(2)], { stdio: ['inherit', 'pipe', 'inherit'] })
let tail = ''
tap.stdout.on('data', (chunk) => {
  process.stdout.write(chunk)
  tail = (tail + chunk.toString('utf8')).slice(-4096)
})
const code = await new Promise((resolve) => tap.on('close', (status) => resolve(status ?? 1)))

const summary = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?(?:, skip: (\d+))?/.exec(tail)
const pass = summary ? Number(summary[2] ?? 0) : 0
let fail = summary ? Number(summary[3] ?? 0) : 1
const skip = summary ? Number(summary[4] ?? 0) : 0
if (code !== 0 && fail === 0) fail = 1

// Skip reasons: `ok N - name # SKIP reason` in the result files this run wrote. Failures:
// `not ok N - name`, each named with its enclosing subtests and listed again at the end, so a
// log read only from its tail (CI's) still says what failed.
const skips = []
const failures = []
const readFailures = (file, text) => {
  const open = [] // enclosing subtests: { indent, name, failedInside }
  for (const line of text.split('\n')) {
    const subtest = /^(\s*)# Subtest: (.*)$/.exec(line)
    if (subtest) {
      open.push({ indent: subtest[1].length, name: subtest[2], failedInside: false })
      continue
    }
    const result = /^(\s*)(not )?ok \d+ - (.*?)(?: # time=.*)?$/.exec(line)
    if (!result) continue
    const indent = result[1].length
    const top = open.at(-1)
    const closes = top !== undefined && top.indent === indent && top.name === result[3]
    if (closes) open.pop()
    if (result[2] && !(closes && top.failedInside)) {
      failures.push(`${file}: ${[...open.map((o) => o.name), result[3]].join(' > ')}`)
    }
    if (result[2]) for (const o of open) o.failedInside = true
  }
}
const results = '.tap/test-results'
const walk = (dir) => {
  let entries = []
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    const path = join(dir, e.name)
    if (e.isDirectory()) walk(path)
    else if (e.name.endsWith('.tap') && statSync(path).mtimeMs >= startedAt - 1000) {
      const file = relative(results, path).replace(/\.tap$/, '')
      const text = readFileSync(path, 'utf8')
      for (const m of text.matchAll(/^\s*ok \d+ - (.*?) # SKIP (.*)$/gm)) {
        skips.push({ file, name: m[1], reason: m[2] })
      }
      readFailures(file, text)
    }
  }
}
walk(results)

const required = (process.env.DRAINPIPE_TEST_REQUIRE ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean)
// Reasons read `needs haproxy and curl: …` (test/helpers/processes.ts, needs()).
const missing = (reason) => /^needs (.+?):/.exec(reason)?.[1].split(' and ') ?? []
const forbidden = skips.filter((s) => missing(s.reason).some((program) => required.includes(program)))
if (skips.length > 0) {
  console.log(`\nskipped (${skips.length}):`)
  for (const s of skips) console.log(`  ${s.file}: ${s.name} — ${s.reason}`)
}
if (failures.length > 0) {
  console.log(`\nfailed (${failures.length}):`)
  for (const f of failures) console.log(`  ${f}`)
}
if (forbidden.length > 0) {
  console.log(`\n${forbidden.length} skipped test(s) need what DRAINPIPE_TEST_REQUIRE=${required.join(',')} requires: counted as failed`)
  fail += forbidden.length
}
console.log(`${pass} passed, ${fail} failed, ${skip} skipped`)
process.exit(code !== 0 ? code : forbidden.length > 0 ? 1 : 0)
