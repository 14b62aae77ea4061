// npm run bench:proxy [-- --quick] [--duration S] [--rounds N] [--connections N] [--paths a,b]
//                      [--idle-connections N] [--skip-extras] [--against DIR] [--requests N]
//                      [--node-args "FLAGS"] [--node 22,24,26]
//
//   --quick             1 round of 1.5 s per cell, 3000 idle connections (about a minute in all);
//                       default 4 rounds of 2 s, 10 000 idle connections (about 5 minutes)
//   --paths             direct, drainpipe-tcp, drainpipe-http, haproxy-tcp, haproxy-http, http-proxy,
//                       direct-h2c, drainpipe-h2c, haproxy-h2c (HTTP/2 prior knowledge both sides, to
//                       an h2c app, keep-alive only: bench/proxy/load-h2.ts)
//   --against DIR       also run DIR/dist/cli.js (another build) and print this/that ratios
//   --skip-extras       only the throughput table (no health-check, idle-memory, start-up runs)
//   --requests N        end each load run after N requests instead of --duration: a smoke run
//                       that checks every path works (test/bench); its figures mean nothing
//   --node-args "FLAGS" node flags for drainpipe's own process (e.g. --max-semi-space-size=1)
//   --node LINES        run this benchmark under each Node line, interleaved by round, and
//                       print the figures side by side (bench/proxy/runtimes.ts)
//
// What drainpipe costs in the data path, next to HAProxy and a plain http-proxy proxy, on
// this machine's loopback, in one process tree and bounded in time. See
// docs/performance.md for what each figure means and the method behind it.
//
// CPU split (2 cores): the proxy under test runs alone on CPU 1; the load generator and the
// app share CPU 0. Every path then pays the same load-generator + app cost on CPU 0, and
// the proxy's own cost is isolated on CPU 1 (its CPU seconds per 10k requests is the figure
// that does not depend on which side saturates first). Runs interleave: every round runs
// every cell once, odd rounds in reverse order (A B C … C B A), so drift cancels.
//
// The last stdout line is one JSON object with every figure.
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { freePort, inspectMachine, start, waitForStatus, getStatus, type Machine, type Placement } from './processes.js'
import {
  CLI,
  H2C_PATHS,
  PATH_LABELS,
  startApp,
  startDrainpipe,
  startH2App,
  startHaproxy,
  startHttpProxyBaseline,
  type PathId,
  type Target,
} from './targets.js'
import type { LoadResult, LoadSpec } from './load.js'
import type { ProbeResult, ProbeSpec } from './health-probe.js'
import { rssKiB } from './proc-stat.js'
import { median } from './stats.js'
import { renderCells, renderGoals, type CellSummary, type Goal } from './report.js'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const ALL_PATHS: PathId[] = [
  'direct',
  'drainpipe-tcp',
  'drainpipe-http',
  'haproxy-tcp',
  'haproxy-http',
  'http-proxy',
  'direct-h2c',
  'drainpipe-h2c',
  'haproxy-h2c',
]

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string', default: '50' },
    paths: { type: 'string' },
    'idle-connections': { type: 'string' },
    'skip-extras': { type: 'boolean', default: false },
    against: { type: 'string' },
    requests: { type: 'string' },
    'node-args': { type: 'string' },
    node: { type: 'string' },
  },
})
if (values.node !== undefined) {
  // Another process per line and round (bench/proxy/runtimes.ts); this one only dispatches.
  const { runRuntimes } = await import('./runtimes.js')
  process.exit(await runRuntimes(values.node, process.argv.slice(2)))
}
// Flags for drainpipe's node only (the app, load generator and HAProxy are untouched).
const nodeArgs = values['node-args']?.split(/\s+/).filter(Boolean) ?? []
// Many short rounds rather than a few long ones: on a shared machine the load changes by the
// minute, and a median over rounds that each visit every cell cancels more of it.
const durationS = Number(values.duration ?? (values.quick ? 1.5 : 2))
const rounds = Number(values.rounds ?? (values.quick ? 1 : 4))
const connections = Number(values.connections)
const requests = values.requests === undefined ? null : Number(values.requests)
if (requests !== null && !(Number.isInteger(requests) && requests > 0))
  throw new Error(`--requests takes a whole number above 0, not ${values.requests}`)
const idleCount = Number(values['idle-connections'] ?? (values.quick ? 3000 : 10_000))
// --against DIR: a second drainpipe build (DIR/dist/cli.js, e.g. a copy of dist/ taken before a
// change, next to a package.json and node_modules) runs as its own paths, interleaved with
// this build's, so a change's effect is measured as a ratio within one run.
const against = values.against === undefined ? null : join(values.against, 'dist/cli.js')
const KNOWN: PathId[] = [...ALL_PATHS, 'drainpipe-tcp-base', 'drainpipe-http-base']
const paths = (values.paths?.split(',') ??
  (against ? ['drainpipe-tcp', 'drainpipe-tcp-base', 'drainpipe-http', 'drainpipe-http-base'] : ALL_PATHS)) as PathId[]
if (!against && paths.some((p) => p.endsWith('-base'))) throw new Error('the -base paths need --against DIR')
for (const p of paths) if (!KNOWN.includes(p)) throw new Error(`unknown path ${p}; one of ${ALL_PATHS.join(', ')}`)

const log = (msg: string) => process.stderr.write(`${msg}\n`)

interface Cell {
  path: PathId
  header: boolean
  keepAlive: boolean
}
const cellName = (c: Cell) => `${c.path}/${c.header ? 'pp2' : 'plain'}/${c.keepAlive ? 'keepalive' : 'newconn'}`

function childJson<T>(script: string, spec: unknown, placement: Placement, machine: Machine): Promise<T> {
  const proc = start(script, process.execPath, [join(HERE, script), JSON.stringify(spec)], placement, machine)
  return new Promise((resolve, reject) => {
    proc.line(/^\{/, 600_000).then((m) => resolve(JSON.parse(m.input) as T), reject)
  })
}

async function main(): Promise<void> {
  const machine = inspectMachine()
  // A smoke run (--requests) measures nothing, so it does not pin: on a busy machine one CPU
  // shared by the load generator and the app would only make it slow.
  const pinned = machine.taskset && machine.cpus >= 2 && requests === null
  const proxyCpu: Placement = { cpus: pinned ? '1' : null, nofile: 65536 }
  const loadCpu: Placement = { cpus: pinned ? '0' : null, nofile: 65536 }
  const startedAt = new Date()
  const loadBefore = loadavg()[0]!
  log(
    `bench:proxy ${startedAt.toISOString()}: ${machine.cpus} CPUs, ${pinned ? 'proxy on CPU 1, load generator + app on CPU 0' : 'unpinned (taskset unavailable or 1 CPU)'}, fd limit ${machine.nofile}${machine.prlimit ? ' (raised with prlimit)' : ''}`,
  )
  if (!machine.prlimit)
    log(`note: the descriptor limit cannot be raised here (hard limit ${machine.nofile}); the idle-connection test opens at most what fits`)
  log(`${durationS} s per run, ${rounds} round(s), ${connections} connections`)

  const app = await startApp(machine, loadCpu)
  const targets = new Map<PathId, Target>([['direct', app]])
  if (paths.includes('drainpipe-tcp'))
    targets.set('drainpipe-tcp', await startDrainpipe(machine, proxyCpu, { mode: 'tcp', upstreamPort: app.port, nodeArgs }))
  if (paths.includes('drainpipe-http'))
    targets.set('drainpipe-http', await startDrainpipe(machine, proxyCpu, { mode: 'http', upstreamPort: app.port, nodeArgs }))
  if (against && paths.includes('drainpipe-tcp-base'))
    targets.set(
      'drainpipe-tcp-base',
      await startDrainpipe(machine, proxyCpu, { mode: 'tcp', upstreamPort: app.port, cli: against, id: 'drainpipe-tcp-base' }),
    )
  if (against && paths.includes('drainpipe-http-base'))
    targets.set(
      'drainpipe-http-base',
      await startDrainpipe(machine, proxyCpu, { mode: 'http', upstreamPort: app.port, cli: against, id: 'drainpipe-http-base' }),
    )
  if (paths.includes('haproxy-tcp')) targets.set('haproxy-tcp', await startHaproxy(machine, proxyCpu, 'tcp', app.port))
  if (paths.includes('haproxy-http')) targets.set('haproxy-http', await startHaproxy(machine, proxyCpu, 'http', app.port))
  if (paths.includes('http-proxy')) targets.set('http-proxy', await startHttpProxyBaseline(machine, proxyCpu, app.port))
  // HTTP/2 (h2c) paths: their own app, clients with prior knowledge (load-h2.ts).
  if (paths.some((p) => H2C_PATHS.includes(p))) {
    const h2app = await startH2App(machine, loadCpu)
    targets.set('direct-h2c', h2app)
    if (paths.includes('drainpipe-h2c'))
      targets.set(
        'drainpipe-h2c',
        await startDrainpipe(machine, proxyCpu, {
          mode: 'http',
          upstreamPort: h2app.port,
          nodeArgs,
          extraArgs: ['--upstream-protocol', 'h2c'],
          id: 'drainpipe-h2c',
        }),
      )
    if (paths.includes('haproxy-h2c')) targets.set('haproxy-h2c', await startHaproxy(machine, proxyCpu, 'http', h2app.port, true))
  }
  for (const t of targets.values()) {
    if (H2C_PATHS.includes(t.id)) continue
    const status = await getStatus(t.port)
    if (status !== 200) throw new Error(`${t.id}: GET / answered ${status}, not 200`)
  }

  const cells: Cell[] = []
  for (const header of [false, true]) {
    for (const keepAlive of [true, false]) {
      for (const path of paths) {
        if (header && targets.get(path)!.ppPort === null) continue
        // HTTP/2 clients keep their connections: no connection-per-request cells.
        if (!keepAlive && H2C_PATHS.includes(path)) continue
        cells.push({ path, header, keepAlive })
      }
    }
  }

  const load = (c: Cell, seconds: number): Promise<LoadResult> => {
    const t = targets.get(c.path)!
    const spec: LoadSpec = {
      port: c.header ? t.ppPort! : t.port,
      connections,
      durationS: seconds,
      ...(requests !== null ? { requests } : {}),
      keepAlive: c.keepAlive,
      proxyHeader: c.header,
      watchPid: t.proc.pid,
    }
    return childJson<LoadResult>(H2C_PATHS.includes(c.path) ? 'load-h2.js' : 'load.js', spec, loadCpu, machine)
  }

  // Warm-up: JIT, pools, HAProxy's buffers; not measured (nor needed by a smoke run).
  for (const path of paths) {
    if (path === 'direct' || path === 'direct-h2c' || requests !== null) continue
    await load({ path, header: false, keepAlive: true }, Math.min(durationS, values.quick ? 0.5 : 1))
  }

  const results = new Map<string, LoadResult[]>()
  const t0 = performance.now()
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? cells : [...cells].reverse()
    for (const c of order) {
      const res = await load(c, durationS)
      const name = cellName(c)
      results.set(name, [...(results.get(name) ?? []), res])
      log(
        `  round ${r + 1}/${rounds} ${name.padEnd(34)} ${Math.round(res.rps).toString().padStart(6)} req/s  p99 ${(res.p99Us / 1000).toFixed(2)} ms  cpu ${res.cpuS.toFixed(2)} s`,
      )
    }
  }
  log(`throughput runs: ${((performance.now() - t0) / 1000).toFixed(0)} s`)

  const summaries: CellSummary[] = cells.map((c) => {
    const rs = results.get(cellName(c))!
    const requests = rs.reduce((a, r) => a + r.requests, 0)
    const cpu = rs.reduce((a, r) => a + r.cpuS, 0)
    const sys = rs.reduce((a, r) => a + r.sysS, 0)
    const secs = rs.reduce((a, r) => a + r.seconds, 0)
    return {
      path: c.path,
      label: PATH_LABELS[c.path],
      header: c.header,
      keepAlive: c.keepAlive,
      rps: median(rs.map((r) => r.rps)),
      p50Ms: median(rs.map((r) => r.p50Us)) / 1000,
      p99Ms: median(rs.map((r) => r.p99Us)) / 1000,
      p999Ms: median(rs.map((r) => r.p999Us)) / 1000,
      cpuSPer10k: requests > 0 ? (cpu / requests) * 10_000 : NaN,
      sysShare: cpu > 0 ? sys / cpu : NaN,
      cpuUtil: secs > 0 ? cpu / secs : NaN,
      rssMiB: Math.max(...rs.map((r) => r.rssKiB)) / 1024,
      errors: rs.reduce((a, r) => a + r.errors + r.timeouts + r.non2xx, 0),
      runs: rs.length,
    }
  })

  let health: Record<'http' | 'tcp', { idle: ProbeResult; saturated: ProbeResult; saturatingRps: number; drainpipeCpu: number }> | null =
    null
  let idle: Record<
    'http' | 'tcp',
    { connections: number; failed: number; rssBeforeKiB: number; rssAfterKiB: number; perConnectionKiB: number }
  > | null = null
  let startup: { runsMs: number[]; medianMs: number; maxMs: number } | null = null

  if (!values['skip-extras'] && !against) {
    // Health checks while the data path is saturated (keep-alive load with PROXY headers).
    const probeSeconds = values.quick ? 1.5 : Math.max(2, durationS)
    const healthFor = async (mode: 'http' | 'tcp') => {
      const t = targets.get(`drainpipe-${mode}`)
      if (!t) return null
      // The prober stands in for the load balancer, which probes from another machine: it
      // runs unpinned and, where allowed, ahead of everything else in the scheduler (it
      // sleeps between probes, so it takes nothing from the rest), so that what it times
      // is drainpipe's answer, not its own wait for a CPU.
      const probe = (seconds: number) =>
        childJson<ProbeResult>(
          'health-probe.js',
          { port: t.port, durationS: seconds, everyMs: 10 } satisfies ProbeSpec,
          { cpus: null, nofile: null, nice: -15 },
          machine,
        )
      const idleProbe = await probe(Math.max(1, probeSeconds / 2))
      const loading = load({ path: t.id, header: true, keepAlive: true }, probeSeconds + 1)
      await new Promise((r) => setTimeout(r, 700))
      const saturated = await probe(probeSeconds)
      const l = await loading
      log(
        `  health ${mode}: LOCAL p99 ${(saturated.local.p99Us / 1000).toFixed(2)} ms, empty p99 ${(saturated.empty.p99Us / 1000).toFixed(2)} ms under ${Math.round(l.rps)} req/s`,
      )
      return { idle: idleProbe, saturated, saturatingRps: l.rps, drainpipeCpu: l.cpuS / l.seconds }
    }
    const h = await healthFor('http')
    const tc = await healthFor('tcp')
    if (h && tc) health = { http: h, tcp: tc }

    // Memory per idle connection: a fresh drainpipe, 10k keep-alive connections that each
    // sent a PROXY header and one request, then nothing.
    const idleFor = async (mode: 'http' | 'tcp') => {
      const dp = await startDrainpipe(machine, proxyCpu, { mode, upstreamPort: app.port, nodeArgs })
      try {
        const hold = async (n: number) => {
          const p = start('idle-clients', process.execPath, [join(HERE, 'idle-clients.js'), String(dp.port), String(n)], loadCpu, machine)
          const m = await p.line(/^open (\d+) (\d+)/, 120_000)
          return { proc: p, open: Number(m[1]), failed: Number(m[2]) }
        }
        const warm = await hold(200)
        await warm.proc.kill()
        await new Promise((r) => setTimeout(r, 1000))
        const before = rssKiB(dp.proc.pid).rss
        // tcp mode holds two descriptors per connection (client + app), http mode one.
        const count = Math.min(idleCount, Math.floor((machine.nofile - 500) / (mode === 'tcp' ? 2 : 1)))
        const held = await hold(count)
        await new Promise((r) => setTimeout(r, 1000))
        const after = rssKiB(dp.proc.pid).rss
        await held.proc.kill()
        const perConnectionKiB = (after - before) / Math.max(1, held.open)
        log(
          `  idle ${mode}: ${held.open} connections (${held.failed} failed), RSS ${(before / 1024).toFixed(1)} → ${(after / 1024).toFixed(1)} MiB, ${perConnectionKiB.toFixed(1)} KiB each`,
        )
        return { connections: held.open, failed: held.failed, rssBeforeKiB: before, rssAfterKiB: after, perConnectionKiB }
      } finally {
        await dp.proc.kill()
      }
    }
    idle = { http: await idleFor('http'), tcp: await idleFor('tcp') }

    // Start-up: spawn → GET /readyz answers 200 (the app already up).
    const runsMs: number[] = []
    for (let i = 0; i < 5; i++) {
      const dp = await startDrainpipeTimed(machine, proxyCpu, app.port)
      runsMs.push(dp.ms)
      await dp.kill()
    }
    startup = { runsMs, medianMs: median(runsMs), maxMs: Math.max(...runsMs) }
    log(`  start-up to /readyz 200: median ${startup.medianMs.toFixed(0)} ms, max ${startup.maxMs.toFixed(0)} ms`)
  }

  // --against: start-up of both builds, alternating.
  let startupAgainst: { thisMs: number[]; againstMs: number[]; ratio: number } | null = null
  if (against && !values['skip-extras']) {
    const thisMs: number[] = []
    const againstMs: number[] = []
    for (let i = 0; i < 7; i++) {
      for (const [cli, into] of [
        [CLI, thisMs],
        [against, againstMs],
      ] as const) {
        const dp = await startDrainpipeTimed(machine, proxyCpu, app.port, cli)
        into.push(dp.ms)
        await dp.kill()
      }
    }
    startupAgainst = { thisMs, againstMs, ratio: median(thisMs) / median(againstMs) }
  }

  for (const t of targets.values()) await t.proc.kill()
  const loadAfter = loadavg()[0]!

  const goals = evaluateGoals(summaries, health, idle, startup)
  const command = `npm run bench:proxy${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
  process.stdout.write(`\ndrainpipe bench:proxy — ${startedAt.toISOString()} — ${command}\n`)
  process.stdout.write(
    `${machine.cpus} CPUs; ${pinned ? 'proxy pinned to CPU 1, load generator (autocannon) + app (node:http hello world) on CPU 0' : 'unpinned'}; ${connections} connections; ${durationS} s × ${rounds} round(s) per cell (median shown); 1-min load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after (above 2 means other work shared the CPUs)\n\n`,
  )
  process.stdout.write(`${renderCells(summaries)}\n`)
  if (health) {
    const row = (m: string, k: 'idle' | 'saturated', r: ProbeResult) =>
      `  ${m.padEnd(5)} ${k.padEnd(10)} LOCAL+GET p50 ${(r.local.p50Us / 1000).toFixed(2)} p99 ${(r.local.p99Us / 1000).toFixed(2)} max ${(r.local.maxUs / 1000).toFixed(2)} ms (${r.local.count} ok, ${r.local.failed} failed) | zero-byte connect p50 ${(r.empty.p50Us / 1000).toFixed(2)} p99 ${(r.empty.p99Us / 1000).toFixed(2)} max ${(r.empty.maxUs / 1000).toFixed(2)} ms (${r.empty.count})`
    process.stdout.write(
      `\nHealth checks (drainpipe, the data path saturated by a keep-alive PROXY-v2 load on the same port; prober unpinned${machine.renice ? ', at nice -15' : ''}):\n`,
    )
    for (const m of ['http', 'tcp'] as const) {
      process.stdout.write(`${row(m, 'idle', health[m].idle)}\n`)
      process.stdout.write(
        row(m, 'saturated', health[m].saturated) +
          ` at ${Math.round(health[m].saturatingRps)} req/s, drainpipe CPU ${(health[m].drainpipeCpu * 100).toFixed(0)}%\n`,
      )
    }
  }
  if (idle) {
    process.stdout.write(`\nIdle connections (PROXY v2 header + one keep-alive request each, then idle):\n`)
    for (const m of ['http', 'tcp'] as const) {
      const i = idle[m]
      process.stdout.write(
        `  ${m.padEnd(5)} ${i.connections} open: RSS ${(i.rssBeforeKiB / 1024).toFixed(1)} → ${(i.rssAfterKiB / 1024).toFixed(1)} MiB = ${i.perConnectionKiB.toFixed(1)} KiB per connection${m === 'tcp' ? ' (client + app socket)' : ''}\n`,
      )
    }
  }
  if (startup) process.stdout.write(`\nStart-up, spawn to /readyz 200 (5 runs): ${startup.runsMs.map((x) => x.toFixed(0)).join(', ')} ms\n`)
  const comparisons = against ? compareBuilds(summaries) : null
  if (comparisons) {
    process.stdout.write(`\nThis build against ${values.against} (ratios of medians; CPU ratio < 1 = this build cheaper):\n`)
    for (const c of comparisons)
      process.stdout.write(
        `  ${c.cell.padEnd(44)} req/s ${c.rpsRatio.toFixed(3)}×   CPU per request ${c.cpuRatio.toFixed(3)}×   p99 ${c.p99Ratio.toFixed(3)}×\n`,
      )
    if (startupAgainst)
      process.stdout.write(
        `  start-up to /readyz 200: median ${median(startupAgainst.thisMs).toFixed(0)} vs ${median(startupAgainst.againstMs).toFixed(0)} ms = ${startupAgainst.ratio.toFixed(3)}× (7 each, alternating)\n`,
      )
  }
  const h2cRatios = h2cVersusHaproxy(summaries)
  if (h2cRatios.length > 0) {
    process.stdout.write(
      `\nHTTP/2 (h2c both sides), drainpipe against HAProxy in this run (ratios of medians; CPU ratio > 1 = drainpipe costlier):\n`,
    )
    for (const r of h2cRatios)
      process.stdout.write(
        `  ${r.load.padEnd(20)} CPU per request ${r.cpuRatio.toFixed(2)}× (${r.drainpipeCpuUsPerReq.toFixed(1)} vs ${r.haproxyCpuUsPerReq.toFixed(1)} µs)   req/s ${r.rpsRatio.toFixed(2)}×   p99 ${r.p99Ratio.toFixed(2)}×\n`,
      )
  }
  process.stdout.write(`\nGoals:\n${renderGoals(goals)}\n`)
  process.stdout.write(
    `${JSON.stringify({
      bench: 'proxy',
      date: startedAt.toISOString(),
      command,
      node: process.version,
      nodeArgs,
      machine: { cpus: machine.cpus, pinned, fdLimit: machine.nofile, loadAvgBefore: loadBefore, loadAvgAfter: loadAfter },
      settings: { durationS, rounds, connections, idleConnections: idleCount },
      cells: summaries,
      health,
      idle,
      startup,
      goals,
      against: values.against ?? null,
      comparisons,
      startupAgainst,
      h2cRatios,
    })}\n`,
  )
}

async function startDrainpipeTimed(
  machine: Machine,
  placement: Placement,
  upstreamPort: number,
  cli = CLI,
): Promise<{ ms: number; kill: () => Promise<void> }> {
  const port = await freePort()
  const adminPort = await freePort()
  const t0 = performance.now()
  const proc = start(
    'drainpipe-startup',
    process.execPath,
    [
      cli,
      '--listen',
      `127.0.0.1:${port}`,
      '--admin',
      `127.0.0.1:${adminPort}`,
      '--upstream',
      `127.0.0.1:${upstreamPort}`,
      '--mode',
      'http',
      '--log-level',
      'warn',
    ],
    placement,
    machine,
  )
  await waitForStatus(adminPort, '/readyz', 200, 10_000, 2)
  const ms = performance.now() - t0
  return { ms, kill: () => proc.kill() }
}

/** drainpipe's h2c cells against HAProxy's, per load (PROXY v2 or plain). */
function h2cVersusHaproxy(cells: CellSummary[]): Array<{
  load: string
  cpuRatio: number
  rpsRatio: number
  p99Ratio: number
  drainpipeCpuUsPerReq: number
  haproxyCpuUsPerReq: number
}> {
  const out = []
  for (const d of cells.filter((c) => c.path === 'drainpipe-h2c')) {
    const h = cells.find((c) => c.path === 'haproxy-h2c' && c.header === d.header && c.keepAlive === d.keepAlive)
    if (!h) continue
    out.push({
      load: d.header ? 'PROXY v2, keep-alive' : 'plain, keep-alive',
      cpuRatio: d.cpuSPer10k / h.cpuSPer10k,
      rpsRatio: d.rps / h.rps,
      p99Ratio: d.p99Ms / h.p99Ms,
      drainpipeCpuUsPerReq: d.cpuSPer10k * 100,
      haproxyCpuUsPerReq: h.cpuSPer10k * 100,
    })
  }
  return out
}

function compareBuilds(cells: CellSummary[]): Array<{ cell: string; rpsRatio: number; cpuRatio: number; p99Ratio: number }> {
  const out = []
  for (const base of cells.filter((c) => c.path.endsWith('-base'))) {
    const mine = cells.find((c) => c.path === base.path.replace(/-base$/, '') && c.header === base.header && c.keepAlive === base.keepAlive)
    if (!mine) continue
    out.push({
      cell: `${mine.label}, ${mine.header ? 'PROXY v2' : 'plain'}, ${mine.keepAlive ? 'keep-alive' : 'conn/req'}`,
      rpsRatio: mine.rps / base.rps,
      cpuRatio: mine.cpuSPer10k / base.cpuSPer10k,
      p99Ratio: mine.p99Ms / base.p99Ms,
    })
  }
  return out
}

function evaluateGoals(
  cells: CellSummary[],
  health: Record<'http' | 'tcp', { idle: ProbeResult; saturated: ProbeResult }> | null,
  idle: Record<'http' | 'tcp', { perConnectionKiB: number }> | null,
  startup: { maxMs: number; medianMs: number } | null,
): Goal[] {
  const goals: Goal[] = []
  const find = (path: PathId, header: boolean, keepAlive: boolean) =>
    cells.find((c) => c.path === path && c.header === header && c.keepAlive === keepAlive)
  for (const header of [false, true]) {
    for (const keepAlive of [true, false]) {
      const load = `${header ? 'PROXY v2' : 'no header'}, ${keepAlive ? 'keep-alive' : 'new connection per request'}`
      // Throughput ratios are judged where the figures measure the proxies: when both ran
      // their CPU to saturation, by req/s; otherwise (the load generator or a shared
      // machine was the limit) by CPU seconds per request, the ratio req/s would show at
      // saturation on one core each.
      const throughput = (name: string, mine: CellSummary, ref: CellSummary, floor: number) => {
        const measured = mine.rps / ref.rps
        const byCpu = ref.cpuSPer10k / mine.cpuSPer10k
        const bound = mine.cpuUtil >= 0.9 && ref.cpuUtil >= 0.9
        const value = bound ? measured : byCpu
        goals.push({
          name: `${name} (${load})`,
          value,
          unit: '×',
          met: value >= floor,
          detail: `${bound ? 'by req/s (both proxy-bound)' : `by CPU per request (not proxy-bound: CPU ${(mine.cpuUtil * 100).toFixed(0)}% / ${(ref.cpuUtil * 100).toFixed(0)}%)`}: ${mine.cpuSPer10k.toFixed(3)} vs ${ref.cpuSPer10k.toFixed(3)} CPU s/10k req; measured ${Math.round(mine.rps)} vs ${Math.round(ref.rps)} req/s = ${measured.toFixed(2)}×`,
        })
      }
      const dt = find('drainpipe-tcp', header, keepAlive)
      const ht = find('haproxy-tcp', header, keepAlive)
      if (dt && ht) {
        throughput('tcp throughput ≥ 0.85× HAProxy tcp', dt, ht, 0.85)
        const diff = dt.p99Ms - ht.p99Ms
        goals.push({
          name: `tcp p99 within 1 ms of HAProxy tcp (${load})`,
          value: diff,
          unit: 'ms',
          met: diff <= 1,
          detail: `${dt.p99Ms.toFixed(2)} vs ${ht.p99Ms.toFixed(2)} ms at ${Math.round(dt.rps)} vs ${Math.round(ht.rps)} req/s`,
        })
      }
      const dh = find('drainpipe-http', header, keepAlive)
      const hh = find('haproxy-http', header, keepAlive)
      if (dh && hh) throughput('http throughput ≥ 0.5× HAProxy http', dh, hh, 0.5)
      const np = find('http-proxy', header, keepAlive)
      if (dh && np) throughput('http throughput ≥ 1.5× http-proxy', dh, np, 1.5)
    }
  }
  if (health) {
    for (const m of ['http', 'tcp'] as const) {
      const s = health[m].saturated
      const i = health[m].idle
      goals.push({
        name: `health check p99 < 2 ms under saturation, ${m} mode, LOCAL+GET`,
        value: s.local.p99Us / 1000,
        unit: 'ms',
        met: s.local.p99Us < 2000 && s.local.failed === 0,
        detail: `${s.local.count} probes, ${s.local.failed} failed; p50 ${(s.local.p50Us / 1000).toFixed(2)} ms; same probe with drainpipe idle: p50 ${(i.local.p50Us / 1000).toFixed(2)}, p99 ${(i.local.p99Us / 1000).toFixed(2)} ms`,
      })
      goals.push({
        name: `health check p99 < 2 ms under saturation, ${m} mode, zero-byte`,
        value: s.empty.p99Us / 1000,
        unit: 'ms',
        met: s.empty.p99Us < 2000 && s.empty.failed === 0,
        detail: `${s.empty.count} probes, ${s.empty.failed} failed; p50 ${(s.empty.p50Us / 1000).toFixed(2)} ms; idle: p50 ${(i.empty.p50Us / 1000).toFixed(2)}, p99 ${(i.empty.p99Us / 1000).toFixed(2)} ms`,
      })
    }
  }
  if (idle) {
    for (const m of ['http', 'tcp'] as const)
      goals.push({
        name: `≤ 20 KiB RSS per idle connection, ${m} mode`,
        value: idle[m].perConnectionKiB,
        unit: 'KiB',
        met: idle[m].perConnectionKiB <= 20,
        detail: '',
      })
  }
  if (startup)
    goals.push({
      name: 'start-up to /readyz 200 < 300 ms (worst of 5)',
      value: startup.maxMs,
      unit: 'ms',
      met: startup.maxMs < 300,
      detail: `median ${startup.medianMs.toFixed(0)} ms`,
    })
  return goals
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:proxy: ${(err as Error).stack ?? err}\n`)
    process.exit(1)
  },
)
