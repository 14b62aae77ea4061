#!/usr/bin/env node
// npm run bench:cluster -- --url URL --command "ROLLOUT COMMAND" [flags]
//
// Load-tests a real rollout: closed-loop HTTP load (bench/rollout/load/load.ts) against URL (new connections all the time, as in the
// rollout lab) while running the user's rollout command, e.g.
//   --command "kubectl rollout restart deploy/web && kubectl rollout status deploy/web"
// then keeps the load on for --cooldown seconds (the NLB keeps routing to deregistered
// targets for ~2 minutes), and reports failed requests per second with the lab's table and chart.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Timeline } from '../rollout/load/timeline.js'
import { startLoad, percentile } from '../rollout/load/load.js'
import { renderTable } from '../rollout/report/table.js'
import { renderChart } from '../rollout/report/chart.js'
import { isLoopbackHost } from './target.js'

interface Options {
  url: string
  command: string
  warmup: number
  cooldown: number
  timeout: number
  parallel: number
  connections: number
  requestsPerConnection: number
  requestTimeout: number
  allowRemote: boolean
  json: boolean
  out: string | undefined
}

class UsageError extends Error {}

const HELP = `Load-test your own rollout: HTTP load against --url while --command runs, then a table
and an SVG chart of failed requests per second.

Usage: npm run bench:cluster -- --url URL --command "CMD" [flags]

  --url URL                      where to send requests (loopback only unless --allow-remote)
  --command CMD                  the rollout, run with sh -c, e.g.
                                 "kubectl rollout restart deploy/web && kubectl rollout status deploy/web"
  --warmup S                     seconds of load before the command (default 5)
  --cooldown S                   seconds of load after the command exited (default 150: an NLB keeps
                                 sending new connections to deregistered targets for ~120 s)
  --timeout S                    bound on the command, seconds; it is killed after (default 900)
  --load-parallel N              concurrent clients (default 4)
  --load-connections N           keep-alive connections per client (default 2)
  --load-requests-per-connection N  requests per connection before a new one (default 5)
  --request-timeout S            per-request timeout (default 10)
  --allow-remote                 allow a non-loopback --url. Load tests started from this repository
                                 stay on this machine by default; pass this only for a target you own
                                 (your cluster's load balancer), never a shared or third-party service.
  --out DIR                      where the chart goes (default: a new directory in the temp dir)
  --json                         last stdout line: {"strategies":[{"name":"rollout",...}]}
  --help
`

function parse(argv: string[]): Options & { help: boolean } {
  const o: Options & { help: boolean } = {
    url: '',
    command: '',
    warmup: 5,
    cooldown: 150,
    timeout: 900,
    parallel: 4,
    connections: 2,
    requestsPerConnection: 5,
    requestTimeout: 10,
    allowRemote: false,
    json: false,
    out: undefined,
    help: false,
  }
  const numeric: Record<string, [keyof Options, number, number]> = {
    warmup: ['warmup', 0, 3600],
    cooldown: ['cooldown', 0, 3600],
    timeout: ['timeout', 1, 86400],
    'load-parallel': ['parallel', 1, 64],
    'load-connections': ['connections', 1, 64],
    'load-requests-per-connection': ['requestsPerConnection', 1, 100000],
    'request-timeout': ['requestTimeout', 1, 600],
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)} (see --help)`)
    const eq = arg.indexOf('=')
    const flag = arg.slice(2, eq === -1 ? undefined : eq)
    const value = (): string => {
      if (eq !== -1) return arg.slice(eq + 1)
      const next = argv[++i]
      if (next === undefined) throw new UsageError(`--${flag} needs a value`)
      return next
    }
    if (flag === 'help') {
      o.help = true
      continue
    }
    if (flag === 'json') {
      o.json = true
      continue
    }
    if (flag === 'allow-remote') {
      o.allowRemote = true
      continue
    }
    if (flag === 'url') {
      o.url = value()
      continue
    }
    if (flag === 'command') {
      o.command = value()
      continue
    }
    if (flag === 'out') {
      o.out = value()
      continue
    }
    const spec = numeric[flag]
    if (spec === undefined) throw new UsageError(`unknown flag --${flag} (see --help)`)
    const text = value()
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n) || n < spec[1] || n > spec[2])
      throw new UsageError(`--${flag} must be a number from ${spec[1]} to ${spec[2]}, got ${JSON.stringify(text)}`)
    ;(o as unknown as Record<string, number>)[spec[0]] = n
  }
  if (o.help) return o
  if (o.url === '') throw new UsageError('--url is required (see --help)')
  if (o.command === '') throw new UsageError('--command is required (see --help)')
  let url: URL
  try {
    url = new URL(o.url)
  } catch {
    throw new UsageError(`--url ${JSON.stringify(o.url)} is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be http or https, got ${url.protocol}`)
  if (!o.allowRemote && !isLoopbackHost(url.hostname)) {
    throw new UsageError(`--url ${url.hostname} is not a loopback address; pass --allow-remote if it is your own cluster's endpoint`)
  }
  return o
}

let child: ChildProcess | undefined
function killCommand(): void {
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      /* gone */
    }
  }
}

async function main(): Promise<void> {
  let o
  try {
    o = parse(process.argv.slice(2))
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench:cluster: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  if (o.help) {
    process.stdout.write(HELP)
    return
  }
  const print = o.json ? (l: string) => process.stderr.write(`${l}\n`) : (l: string) => process.stdout.write(`${l}\n`)
  process.on('exit', killCommand)
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      killCommand()
      process.exit(sig === 'SIGINT' ? 130 : 143)
    })

  const timeline = new Timeline()
  const url = new URL(o.url)
  const load = startLoad({
    url: url.origin,
    path: url.pathname + url.search,
    timeline,
    parallel: o.parallel,
    connections: o.connections,
    requestsPerConnection: o.requestsPerConnection,
    timeoutSeconds: o.requestTimeout,
  })
  let phase = 'warm-up'
  let last = 0
  const progress = setInterval(() => {
    const s = load.snapshot()
    print(
      `[cluster] ${timeline.elapsedSeconds().toFixed(0).padStart(4)}s ${phase.padEnd(8)} requests ${s.requests} (+${s.requests - last}) failed ${s.failed}`,
    )
    last = s.requests
  }, 1000)
  await sleep(o.warmup * 1000)

  phase = 'rollout'
  print(`[cluster] running: ${o.command}`)
  const started = Date.now()
  timeline.mark('command', started)
  child = spawn('sh', ['-c', o.command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const relay = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') print(`[command] ${line}`)
  }
  child.stdout?.on('data', relay)
  child.stderr?.on('data', relay)
  const limit = setTimeout(() => {
    print(`[cluster] command still running after ${o.timeout} s: killed`)
    killCommand()
  }, o.timeout * 1000)
  const code = await new Promise<number>((resolveExit) => {
    child!.on('error', (err) => {
      print(`[cluster] could not run the command: ${err.message}`)
      resolveExit(127)
    })
    child!.on('exit', (c, sig) => resolveExit(c ?? (sig !== null ? 128 : 1)))
  })
  clearTimeout(limit)
  const ended = Date.now()
  timeline.mark('command exited', ended)
  print(`[cluster] command exited ${code} after ${((ended - started) / 1000).toFixed(1)} s; load continues ${o.cooldown} s`)

  phase = 'cooldown'
  await sleep(o.cooldown * 1000)
  clearInterval(progress)
  const r = await load.stop()
  const sorted = r.latenciesMs.slice().sort((a, b) => a - b)
  const row = {
    name: 'rollout',
    requests: r.requests,
    non2xx: r.non2xx,
    resets: r.resets,
    timeouts: r.timeouts,
    failed: r.failed,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    rolloutSeconds: Math.round((ended - started) / 100) / 10,
  }
  const dir = o.out !== undefined ? resolve(o.out) : mkdtempSync(join(tmpdir(), 'drainpipe-cluster-rollout-'))
  mkdirSync(dir, { recursive: true })
  const chartPath = join(dir, 'rollout.svg')
  writeFileSync(
    chartPath,
    renderChart(
      [{ name: 'rollout', timeline, subtitle: `${r.requests} requests, ${r.failed} failed; command ${row.rolloutSeconds} s` }],
      `Load during: ${o.command}`,
    ),
  )
  const perSecond = timeline.buckets.map((b, i) => ({ second: i, ok: b.ok, non2xx: b.non2xx, resets: b.resets, timeouts: b.timeouts }))
  writeFileSync(
    join(dir, 'results.json'),
    JSON.stringify({ url: o.url, command: o.command, exitCode: code, ...row, errorsByCode: r.errorsByCode, perSecond }, null, 2),
  )
  print('')
  print(renderTable([row]))
  print("(rollout s = the command's run time; failed = non-2xx + resets/refused + timeouts)")
  const bad = perSecond.filter((b) => b.non2xx + b.resets + b.timeouts > 0)
  if (bad.length > 0)
    print(`failed requests per second (s since start): ${bad.map((b) => `${b.second}:${b.non2xx + b.resets + b.timeouts}`).join(' ')}`)
  if (r.failed > 0) print(`errors: ${JSON.stringify(r.errorsByCode)}`)
  print(`chart: ${chartPath}`)
  if (o.json)
    process.stdout.write(
      `${JSON.stringify({
        strategies: [{ name: 'rollout', requests: row.requests, failed: row.failed, p99Ms: row.p99Ms, rolloutSeconds: row.rolloutSeconds }],
      })}\n`,
    )
  process.exit(code === 0 ? 0 : 1)
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

main().catch((err) => {
  process.stderr.write(`bench:cluster: ${(err as Error).stack ?? String(err)}\n`)
  killCommand()
  process.exit(1)
})
