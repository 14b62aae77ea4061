// npm run bench:proxy -- --node 22,24,26 [--rounds N] [--quick] [other bench:proxy flags]
// npm run bench:proxy -- --node 26,26:--max-semi-space-size=1   (a line with node flags for
//                                                               drainpipe: a V8 setting, measured
//                                                               against the same line without it)
//
// The same benchmark under each Node line, so the choice of runtime is a measured one. Each
// line runs bench:proxy in a process tree of its own (drainpipe, the app and the load generator
// on that line's node, from scripts/with-node.sh; HAProxy as always), one round at a time:
//
//   - throughput rounds: every round runs every line once, alternate rounds in reverse order
//     (22 24 26, 26 24 22, …), so drift of a shared machine cancels. Each run measures
//     drainpipe and HAProxy side by side, so the CPU-per-request ratio to HAProxy is taken
//     within one run and the table shows its median over rounds;
//   - then, per line, one run with the extras: RSS idle (a fresh drainpipe after 200 warm-up
//     connections closed), RSS with N idle connections held, health checks, start-up.
//
// RSS under load is the largest RSS drainpipe reached at the end of a saturating keep-alive
// run (50 connections, as fast as the load generator goes). The last stdout line is one JSON
// object with every figure and every run's own JSON.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadavg } from 'node:os'
import { median } from './stats.js'
import type { CellSummary } from './report.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const HERE = fileURLToPath(new URL('.', import.meta.url))
const DEFAULT_PATHS = 'drainpipe-tcp,drainpipe-http,haproxy-tcp,haproxy-http'

interface RunJson {
  node: string
  cells: CellSummary[]
  idle: Record<'http' | 'tcp', { connections: number; rssBeforeKiB: number; rssAfterKiB: number; perConnectionKiB: number }> | null
  startup: { medianMs: number } | null
  machine: { loadAvgBefore: number[]; loadAvgAfter: number[] }
}

/** Flags of bench:proxy that take a value (to drop --node/--rounds/--paths with theirs). */
const TAKES_VALUE = new Set([
  '--duration',
  '--rounds',
  '--connections',
  '--paths',
  '--idle-connections',
  '--against',
  '--requests',
  '--node-args',
  '--node',
])

function without(argv: string[], drop: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? ''
    const name = a.split('=')[0] ?? ''
    if (drop.includes(name)) {
      if (!a.includes('=') && TAKES_VALUE.has(name)) i++
      continue
    }
    out.push(a)
  }
  return out
}

function flagValue(argv: string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? ''
    if (a === flag) return argv[i + 1]
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1)
  }
  return undefined
}

/** `26` or `26:--flag=value:--other`: a line, and node flags for drainpipe's own process. */
function parseEntry(entry: string): { line: string; flags: string[] } {
  const [line = '', ...flags] = entry.split(':')
  return { line, flags }
}

function runLine(entry: string, args: string[]): Promise<RunJson> {
  const { line, flags } = parseEntry(entry)
  const nodeArgs = flags.length > 0 ? [`--node-args=${flags.join(' ')}`] : []
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(ROOT, 'scripts/with-node.sh'), line, 'node', join(HERE, 'cli.js'), ...args, ...nodeArgs], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8')
    })
    child.on('error', reject)
    child.on('close', (code) => {
      const last = out.trim().split('\n').at(-1) ?? ''
      if (code !== 0 || !last.startsWith('{')) return reject(new Error(`bench:proxy on Node ${line} exited ${code}: ${out.slice(-400)}`))
      resolve(JSON.parse(last) as RunJson)
    })
  })
}

const cellOf = (run: RunJson, path: string, header: boolean, keepAlive: boolean) =>
  run.cells.find((c) => c.path === path && c.header === header && c.keepAlive === keepAlive)

/** drainpipe's CPU per request over HAProxy's, in one run; null when either is missing. */
function cpuRatio(run: RunJson, mode: 'tcp' | 'http' | 'h2c', keepAlive: boolean): number | null {
  const dp = cellOf(run, `drainpipe-${mode}`, true, keepAlive)
  const ha = cellOf(run, `haproxy-${mode}`, true, keepAlive)
  return dp && ha && ha.cpuSPer10k > 0 ? dp.cpuSPer10k / ha.cpuSPer10k : null
}

export async function runRuntimes(linesArg: string, argv: string[]): Promise<number> {
  const lines = linesArg
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const bad = lines.find((l) => !/^(\d+(\.\d+){0,2}|system)(:--[a-z0-9-]+(=[A-Za-z0-9._-]+)?)*$/.test(l))
  if (lines.length === 0 || bad !== undefined) {
    process.stderr.write(
      `bench:proxy: --node takes Node lines separated by commas (22,24,26; an exact version; or system; each optionally followed by :--node-flag=value), not '${linesArg}'\n`,
    )
    return 2
  }
  const quick = argv.includes('--quick')
  const rounds = Number(flagValue(argv, '--rounds') ?? (quick ? 1 : 2))
  if (!(Number.isInteger(rounds) && rounds > 0)) {
    process.stderr.write(`bench:proxy: --rounds takes a whole number above 0, not ${flagValue(argv, '--rounds')}\n`)
    return 2
  }
  const paths = flagValue(argv, '--paths') ?? DEFAULT_PATHS
  const skipExtras = argv.includes('--skip-extras')
  const pass = without(argv, ['--node', '--rounds', '--paths', '--skip-extras'])
  const log = (m: string) => process.stderr.write(`${m}\n`)
  const loadBefore = loadavg()

  const throughput = new Map<string, RunJson[]>(lines.map((l) => [l, []]))
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? lines : [...lines].reverse()
    for (const line of order) {
      log(`== round ${r + 1}/${rounds}, Node ${line}`)
      throughput.get(line)!.push(await runLine(line, [...pass, '--rounds', '1', '--skip-extras', '--paths', paths]))
    }
  }
  const extras = new Map<string, RunJson>()
  if (!skipExtras) {
    for (const line of lines) {
      log(`== extras (idle memory, health checks, start-up), Node ${line}`)
      extras.set(line, await runLine(line, [...pass, '--rounds', '1', '--paths', 'drainpipe-tcp,drainpipe-http']))
    }
  }

  const versions = lines.map(
    (l) =>
      `${throughput.get(l)![0]?.node ?? l}${parseEntry(l)
        .flags.map((f) => ` ${f}`)
        .join('')}`,
  )
  const fmt = (v: number | null, digits: number, unit = '') => (v === null || Number.isNaN(v) ? '–' : `${v.toFixed(digits)}${unit}`)
  const medianOf = (line: string, f: (run: RunJson) => number | null) => {
    const xs = throughput
      .get(line)!
      .map(f)
      .filter((x): x is number => x !== null)
    return xs.length ? median(xs) : null
  }
  const maxOf = (line: string, f: (run: RunJson) => number | undefined) => {
    const xs = throughput
      .get(line)!
      .map(f)
      .filter((x): x is number => x !== undefined)
    return xs.length ? Math.max(...xs) : null
  }
  const rows: Array<[string, (line: string) => string]> = [
    [
      'tcp keep-alive CPU/req ×HAProxy (target ≤ 1.2)',
      (l) =>
        fmt(
          medianOf(l, (run) => cpuRatio(run, 'tcp', true)),
          2,
          '×',
        ),
    ],
    [
      'tcp conn/req CPU/req ×HAProxy (target ≤ 1.6)',
      (l) =>
        fmt(
          medianOf(l, (run) => cpuRatio(run, 'tcp', false)),
          2,
          '×',
        ),
    ],
    [
      'http keep-alive CPU/req ×HAProxy',
      (l) =>
        fmt(
          medianOf(l, (run) => cpuRatio(run, 'http', true)),
          2,
          '×',
        ),
    ],
    [
      'http conn/req CPU/req ×HAProxy',
      (l) =>
        fmt(
          medianOf(l, (run) => cpuRatio(run, 'http', false)),
          2,
          '×',
        ),
    ],
    [
      'h2c keep-alive CPU/req ×HAProxy (with h2c paths)',
      (l) =>
        fmt(
          medianOf(l, (run) => cpuRatio(run, 'h2c', true)),
          2,
          '×',
        ),
    ],
    [
      'tcp keep-alive µs/req (drainpipe)',
      (l) =>
        fmt(
          medianOf(l, (run) => (cellOf(run, 'drainpipe-tcp', true, true)?.cpuSPer10k ?? NaN) * 100),
          1,
        ),
    ],
    [
      'http keep-alive µs/req (drainpipe)',
      (l) =>
        fmt(
          medianOf(l, (run) => (cellOf(run, 'drainpipe-http', true, true)?.cpuSPer10k ?? NaN) * 100),
          1,
        ),
    ],
    [
      'h2c keep-alive µs/req (drainpipe)',
      (l) =>
        fmt(
          medianOf(l, (run) => (cellOf(run, 'drainpipe-h2c', true, true)?.cpuSPer10k ?? NaN) * 100),
          1,
        ),
    ],
    [
      'RSS loaded, tcp (MiB, target ≤ 70)',
      (l) =>
        fmt(
          maxOf(l, (run) => cellOf(run, 'drainpipe-tcp', true, true)?.rssMiB),
          1,
        ),
    ],
    [
      'RSS loaded, http (MiB, target ≤ 70)',
      (l) =>
        fmt(
          maxOf(l, (run) => cellOf(run, 'drainpipe-http', true, true)?.rssMiB),
          1,
        ),
    ],
  ]
  if (!skipExtras) {
    const idle = (l: string, mode: 'tcp' | 'http') => extras.get(l)?.idle?.[mode] ?? null
    rows.push(
      ['RSS idle, tcp (MiB, target ≤ 45)', (l) => fmt((idle(l, 'tcp')?.rssBeforeKiB ?? NaN) / 1024, 1)],
      ['RSS idle, http (MiB, target ≤ 45)', (l) => fmt((idle(l, 'http')?.rssBeforeKiB ?? NaN) / 1024, 1)],
      [
        'RSS with idle connections held, tcp (MiB)',
        (l) => `${fmt((idle(l, 'tcp')?.rssAfterKiB ?? NaN) / 1024, 1)} (${idle(l, 'tcp')?.connections ?? '–'})`,
      ],
      [
        'RSS with idle connections held, http (MiB)',
        (l) => `${fmt((idle(l, 'http')?.rssAfterKiB ?? NaN) / 1024, 1)} (${idle(l, 'http')?.connections ?? '–'})`,
      ],
      ['start-up to /readyz 200 (ms, median of 5)', (l) => fmt(extras.get(l)?.startup?.medianMs ?? null, 0)],
    )
  }
  const width = Math.max(...rows.map(([name]) => name.length))
  const colW = Math.max(10, ...versions.map((v) => v.length + 2), ...rows.flatMap(([, f]) => lines.map((l) => f(l).length + 2)))
  process.stdout.write(
    `\nbench:proxy per Node line (${rounds} interleaved round(s); ratios from PROXY v2 cells, each within its own run; load ${loadBefore.map((x) => x.toFixed(1)).join(' ')} before, ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} after)\n`,
  )
  process.stdout.write(`${''.padEnd(width)}  ${versions.map((v) => v.padStart(colW)).join('')}\n`)
  for (const [name, f] of rows) process.stdout.write(`${name.padEnd(width)}  ${lines.map((l) => f(l).padStart(colW)).join('')}\n`)
  process.stdout.write(
    `${JSON.stringify({
      bench: 'proxy-runtimes',
      date: new Date().toISOString(),
      lines,
      versions,
      rounds,
      loadAvgBefore: loadBefore,
      loadAvgAfter: loadavg(),
      table: Object.fromEntries(rows.map(([name, f]) => [name, Object.fromEntries(lines.map((l) => [l, f(l)]))])),
      runs: Object.fromEntries(lines.map((l) => [l, { throughput: throughput.get(l), extras: extras.get(l) ?? null }])),
    })}\n`,
  )
  return 0
}
