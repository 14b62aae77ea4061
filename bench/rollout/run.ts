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
  print(`rollout lab: ${o.replicas} pods, maxSurge ${o.maxSurge}, maxUnavailable ${o.maxUnavailable}, time scale ${o.timeScale} ` +
    `(1 simulated s = ${o.timeScale * 1000} ms); NLB lag ${o.lagSeconds} s, deregistration delay ${o.deregistrationDelaySeconds} s, ` +
    `health checks every ${o.healthCheckIntervalSeconds} s from ${o.lbNodes} nodes; grace ${o.gracePeriodSeconds} s; ` +
    `load ${o.parallel}×${o.connections} connections, ${o.requestsPerConnection} requests each, then new ones`)
  const results: StrategyResult[] = []
  for (const [i, name] of cli.strategies.entries()) {
    const r = await runStrategy(name, lab, i + 1, progress)
    results.push(r)
    print(`[${name}] done: ${r.requests} requests, ${r.failed} failed (${r.non2xx} non-2xx, ${r.resets} resets, ${r.timeouts} timeouts)` +
      `${r.failed > 0 ? ` ${JSON.stringify(r.errorsByCode)}` : ''}; ${r.flowsToDeregistered} new connections reached deregistered targets; ` +
      `DeregisterTargets ${r.meanDeregistrationSeconds} s after termination started (mean)` +
      `${r.completed ? '' : '; ROLLOUT DID NOT COMPLETE in time'}`)
  }
  const table = renderTable(results)
  const chartPath = join(runDir, 'rollout.svg')
  writeFileSync(chartPath, renderChart(results.map((r) => ({
    name: r.name,
    timeline: r.timeline,
    subtitle: `${r.requests} requests, ${r.failed} failed, rollout ${r.rolloutSeconds} s (simulated)`,
  })), `Rolling update of ${o.replicas} pods behind a simulated NLB (time scale ${o.timeScale}; x axis in wall-clock seconds)`))
  writeFileSync(join(runDir, 'results.json'), JSON.stringify({ options: lab, results: results.map(({ timeline, ...rest }) => ({ ...rest, timeline: timeline.buckets })) }, null, 2))
  return { results, table, chartPath, runDir }
}

export function summaryJson(results: StrategyResult[]): string {
  return JSON.stringify({
    strategies: results.map((r) => ({ name: r.name, requests: r.requests, failed: r.failed, p99Ms: r.p99Ms, rolloutSeconds: r.rolloutSeconds })),
  })
}
