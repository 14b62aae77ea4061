// Signals and exit statuses, over real processes (issue 12, item 2): a SIGTERM while the
// modules load drains instead of killing; a second SIGINT ends the wait; the exit status says how
// termination went (0 clean, 3 wait cut short, 4 connections cut: src/lifecycle/exit-status.ts).
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { performance } from 'node:perf_hooks'
import { CLI, startApp, startDrainpipe } from '../helpers/processes.js'
import { shortWait } from '../helpers/lifecycle-flags.js'
import { within } from '../helpers/wait.js'

/**
 * Module loading made slow on purpose, as it is on a busy node (pino, prom-client, undici and
 * the AWS SDK take 100 ms or more): a loader hook holds the first drainpipe module that loads
 * after dist/cli.js for `holdMs`, and says so on stderr. A SIGTERM sent then lands while
 * drainpipe's modules are loading: the window the first lines of cli.js must cover.
 */
function slowImports(holdMs: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'drainpipe-slow-imports-'))
  writeFileSync(
    join(dir, 'hooks.mjs'),
    [
      "import { writeSync } from 'node:fs'",
      'let held = false',
      'export async function load(url, context, next) {',
      "  if (!held && url.includes('/dist/') && !url.endsWith('/dist/cli.js')) {",
      '    held = true',
      '    writeSync(2, `holding ${url}\\n`)',
      `    await new Promise((r) => setTimeout(r, ${holdMs}))`,
      '  }',
      '  return next(url, context)',
      '}',
    ].join('\n'),
  )
  writeFileSync(join(dir, 'register.mjs'), "import { register } from 'node:module'\nregister('./hooks.mjs', import.meta.url)\n")
  return pathToFileURL(join(dir, 'register.mjs')).href
}

t.test('SIGTERM while the modules are still loading: drains and exits 0', async (t) => {
  const app = await startApp(t)
  const register = slowImports(400)
  const p = spawn(
    process.execPath,
    [
      '--import',
      register,
      CLI,
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--upstream',
      `127.0.0.1:${app.port}`,
      ...shortWait(0.2),
      '--drain-timeout',
      '2',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  p.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d
  })
  t.teardown(() => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
  })
  const exited = once(p, 'close') as Promise<[number | null, NodeJS.Signals | null]>
  const holding = new Promise<string>((resolve) => {
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d
      const m = /holding (\S+)/.exec(err)
      if (m) resolve(m[1]!)
    })
  })
  const held = await within(holding, 10_000)
  t.not(held, 'timeout', `a module load was held: ${held}`)
  p.kill('SIGTERM')
  const res = await within(exited, 15_000)
  t.same(res, [0, null], 'exit 0, not killed by the signal', { stderr: err.slice(-500) })
  const states = out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l) as { to?: string }
      } catch {
        return {}
      }
    })
    .filter((l) => l.to)
    .map((l) => l.to)
  t.same(states.slice(-3), ['terminating', 'draining', 'drained'], 'the termination sequence ran')
})

t.test('a second SIGINT ends the wait for the load balancer and drains at once; exit 3', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--quiet-period',
    '60',
    '--lb-lag-max',
    '60',
    '--max-wait',
    '120',
    '--drain-timeout',
    '2',
  ])
  dp.proc.kill('SIGINT')
  await dp.waitForLog((l) => l.to === 'terminating')
  await new Promise((r) => setTimeout(r, 200))
  t.equal(dp.proc.exitCode, null, 'the first SIGINT started the wait')
  const secondAt = performance.now()
  dp.proc.kill('SIGINT')
  const exit = await within(dp.exited, 10_000)
  t.same(exit, { code: 3, signal: null }, 'exit 3: the wait was cut short')
  t.ok(performance.now() - secondAt < 5000, 'at once, not after the 60 s quiet window')
  const draining = dp.logs.find((l) => l.to === 'draining')
  t.match(String(draining?.reason), /operator/, 'the draining transition says the operator ended the wait')
  const exiting = dp.logs.find((l) => l.msg === 'exiting') as { report?: { waitEnded?: string } } | undefined
  t.equal(exiting?.report?.waitEnded, 'operator')
})

t.test('--max-wait reached: exit 3, so the kubelet records that the load balancer was not seen to stop', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--quiet-period',
    '60',
    '--lb-lag-max',
    '60',
    '--max-wait',
    '0.5',
    '--drain-timeout',
    '2',
  ])
  dp.proc.kill('SIGTERM')
  const exit = await within(dp.exited, 10_000)
  t.same(exit, { code: 3, signal: null }, 'exit 3')
  const exiting = dp.logs.find((l) => l.msg === 'exiting') as { exitStatus?: number; meaning?: string } | undefined
  t.equal(exiting?.exitStatus, 3, 'the exiting log line names the status')
  t.match(String(exiting?.meaning), /max-wait/, 'and what it means')
})
