// Runs the chosen strategies one after the other under the same load and timings, then
// prints the table, writes the chart, and (with --json) the one-line summary.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { runStrategy, type StrategyResult } from './scenario.js'
import { renderTable } from './report/table.js'
import { renderChart } from './report/chart.js'
import { installExitHooks } from './kube/processes.js'
import type { CliOptions } from './options.js'
import type { LabOptions } from './lab-options.js'

export interface LabReport {
  results: StrategyResult[]
  table: string
  chartPath: string
  runDir: string
}

export async function runLab(cli: CliOptions, print: (line: string) => void): Promise<LabReport> {
  installExitHooks()
  const runDir = cli.out !== undefined ? resolve(cli.out) : mkdtempSync(join(tmpdir(), 'drainpipe-rollout-'))
  mkdirSync(runDir, { recursive: true })
  const lab = { ...cli.lab, runDir }
  const progress = cli.quiet ? () => {} : print
  const o = lab
  print(
    `rollout lab: ${o.replicas} pods, maxSurge ${o.maxSurge}, maxUnavailable ${o.maxUnavailable}, time scale ${o.timeScale} ` +
      `(1 simulated s = ${o.timeScale * 1000} ms); seed ${o.seed}; ${describeNlb(o)}; ` +
      `health checks every ${o.healthCheckIntervalSeconds} s from ${o.lbNodes} nodes; grace ${o.gracePeriodSeconds} s; load: ${describeLoad(o)}`,
  )
  const results: StrategyResult[] = []
  const notes = new Set<string>()
  for (const [i, name] of cli.strategies.entries()) {
    const r = await runStrategy(name, lab, i + 1, progress)
    results.push(r)
    for (const note of r.unscaled)
      if (!notes.has(note)) {
        notes.add(note)
        print(`[${name}] duration: ${note}`)
      }
    print(
      `[${name}] done: ${r.requests} requests, ${r.failed} failed (${r.non2xx} non-2xx, ${r.resets} resets, ${r.timeouts} timeouts)` +
        `${r.failed > 0 ? ` ${JSON.stringify(r.errorsByCode)}` : ''}; ${r.flowsToDeregistered} new connections reached deregistered targets; ` +
        `DeregisterTargets ${r.meanDeregistrationSeconds} s after termination started (mean)` +
        `${r.maxStallMs > 200 ? `; harness stalled up to ${r.maxStallMs} ms` : ''}` +
        `${r.completed ? '' : '; ROLLOUT DID NOT COMPLETE in time'}`,
    )
  }
  const table = renderTable(results)
  const chartPath = join(runDir, 'rollout.svg')
  writeFileSync(
    chartPath,
    renderChart(
      results.map((r) => ({
        name: r.name,
        timeline: r.timeline,
        subtitle: `${r.requests} requests, ${r.failed} failed, rollout ${r.rolloutSeconds} s (simulated)`,
      })),
      `Rolling update of ${o.replicas} pods behind a simulated NLB (time scale ${o.timeScale}; x axis in wall-clock seconds)`,
    ),
  )
  writeFileSync(
    join(runDir, 'results.json'),
    JSON.stringify({ options: lab, results: results.map(({ timeline, ...rest }) => ({ ...rest, timeline: timeline.buckets })) }, null, 2),
  )
  return { results, table, chartPath, runDir }
}

export function summaryJson(results: StrategyResult[]): string {
  return JSON.stringify({
    strategies: results.map((r) => ({
      name: r.name,
      requests: r.requests,
      failed: r.failed,
      p99Ms: r.p99Ms,
      rolloutSeconds: r.rolloutSeconds,
    })),
  })
}

export function describeNlb(o: LabOptions): string {
  return (
    `NLB lag ${o.lag} s per node${o.lagStaggerSeconds > 0 ? ` (+${o.lagStaggerSeconds} s per node)` : ''}, cross-zone ${o.crossZone ? 'on' : 'off'}, ` +
    `deregistration delay ${o.deregistrationDelaySeconds} s${o.deregistrationTermination ? ' with connection termination' : ''}`
  )
}

export function describeLoad(o: LabOptions): string {
  switch (o.load) {
    case 'closed':
      return `closed-loop ${o.parallel}×${o.connections} connections, ${o.requestsPerConnection} requests each, then new ones`
    case 'poisson':
      return `Poisson new connections, ${o.ratePerPod}/s per replica`
    case 'bursty':
      return `bursty new connections, ${o.ratePerPod}/s per replica on average (on ~${o.burstOnSeconds} s, off ~${o.burstOffSeconds} s)`
    case 'keepalive':
      return `${o.keepAliveClients} keep-alive clients, think time ~${o.thinkSeconds} s`
    case 'grpc':
      return `${o.keepAliveClients} gRPC channels, a unary call every ~${o.thinkSeconds} s each (open loop)`
  }
}
