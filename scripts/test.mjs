#!/usr/bin/env node
// `npm test`: build, run the tap suite, and close with the one line CI reads: `N passed, N failed`.
// tap's own summary (`# { total, pass, fail }`) is not a format CI recognises, so we read it back
// from tap's saved results (`tap replay`) and restate it.
import { spawnSync } from 'node:child_process'

const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { stdio: 'inherit', ...opts })

const build = run('npm', ['run', 'build', '--silent'])
if (build.status !== 0) {
  console.log('0 passed, 1 failed')
  process.exit(build.status ?? 1)
}

const reporter = process.env.CI ? 'tap' : 'terse'
const tap = run('npx', ['tap', '-R', reporter, ...process.argv.slice(2)])

const replay = spawnSync('npx', ['tap', 'replay', '-R', 'tap'], { encoding: 'utf8' })
const summary = /^# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?/m.exec(replay.stdout ?? '')
const pass = summary ? Number(summary[2] ?? 0) : 0
const fail = summary ? Number(summary[3] ?? 0) : 1
const code = tap.status ?? 1
console.log(`${pass} passed, ${code !== 0 && fail === 0 ? 1 : fail} failed`)
process.exit(code)
