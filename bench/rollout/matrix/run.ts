// Runs the scenario matrix: every regime × strategy × seed as one lab run (a full rolling
// update under load behind the simulated NLB), `concurrency` runs at a time, and folds the
// seeds of each regime × strategy into one row.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { runStrategy, type StrategyResult } from '../scenario.js'
import type { LabOptions } from '../lab-options.js'
import type { StrategyName } from '../strategies.js'
import { expectedToFail, regimeOptions, type Regime } from './regimes.js'

export interface Spread {
  p50: number
  max: number
}
/** The table also shows the minimum: for exit − last LB connection, below 0 means traffic was sent to a pod already gone. */
export interface SpreadWithMin extends Spread {
  min: number
}

export interface MatrixRow {
  regime: string
  strategy: StrategyName
  seeds: number
  requests: number
  failed: number
  seedsWithFailures: number
  podLifeSeconds: Spread
  exitAfterLastLbConnectionSeconds: SpreadWithMin
  expectedToFail: boolean
  /** Longest harness stall over the seeds, wall-clock ms. */
  maxStallMs: number
  /** Runs that did not complete (timeout, crash). */
  incomplete: number
}

export interface MatrixOptions {
  base: LabOptions
  regimes: Regime[]
  strategies: StrategyName[]
  /** Only these regime × strategy pairs (--quick); default every pair. */
  cases?: Array<[regime: string, strategy: StrategyName]>
  seeds: number[]
  concurrency: number
  progress: (line: string) => void
}

export interface MatrixReport {
  rows: MatrixRow[]
  /** drainpipe durations that ran unscaled (from the first drainpipe run). */
  unscaled: string[]
}

export async function runMatrix(o: MatrixOptions): Promise<MatrixReport> {
  const jobs: Array<{ regime: Regime; strategy: StrategyName; seed: number }> = []
  const wanted = (regime: Regime, strategy: StrategyName): boolean =>
    o.cases === undefined || o.cases.some(([r, s]) => r === regime.name && s === strategy)
  for (const regime of o.regimes)
    for (const strategy of o.strategies) if (wanted(regime, strategy)) for (const seed of o.seeds) jobs.push({ regime, strategy, seed })
  const results = new Map<string, Array<StrategyResult | Error>>()
  const unscaled = new Set<string>()
  let next = 0
  let done = 0
  let index = 0
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]!
      const lab: LabOptions = {
        ...regimeOptions(o.base, job.regime),
        seed: job.seed,
        runDir: join(o.base.runDir, job.regime.name, `${job.strategy}-seed${job.seed}`),
      }
      mkdirSync(lab.runDir, { recursive: true })
      // Pods get 127.<subnet>.<index>.<n>: a fresh index per run keeps concurrent runs apart.
      index = (index % 250) + 1
      const started = Date.now()
      const r = await runStrategy(job.strategy, lab, index, () => {}).catch((err: Error) => err)
      done++
      const key = `${job.regime.name}\u0000${job.strategy}`
      results.set(key, [...(results.get(key) ?? []), r])
      if (r instanceof Error) {
        o.progress(`[${done}/${jobs.length}] ${job.regime.name} ${job.strategy} seed ${job.seed}: ERROR ${r.message.split('\n')[0]}`)
        continue
      }
      for (const note of r.unscaled) unscaled.add(note)
      o.progress(
        `[${done}/${jobs.length}] ${job.regime.name} ${job.strategy} seed ${job.seed}: ${r.requests} requests, ${r.failed} failed${r.failed > 0 ? ` ${JSON.stringify(r.errorsByCode)}, NLB ${JSON.stringify(r.nlbResets)}` : ''}; ` +
          `pod life ${fmtList(r.podLifeSeconds)} s; exit − last LB connection ${fmtList(r.exitAfterLastLbConnectionSeconds)} s` +
          `${r.maxStallMs > 200 ? `; harness stalled up to ${r.maxStallMs} ms` : ''}${r.completed ? '' : '; ROLLOUT INCOMPLETE'} (${((Date.now() - started) / 1000).toFixed(0)} s wall)`,
      )
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker))

  const rows: MatrixRow[] = []
  for (const regime of o.regimes) {
    for (const strategy of o.strategies) {
      if (!wanted(regime, strategy)) continue
      const runs = results.get(`${regime.name}\u0000${strategy}`) ?? []
      const ok = runs.filter((r): r is StrategyResult => !(r instanceof Error))
      rows.push({
        regime: regime.name,
        strategy,
        seeds: runs.length,
        requests: sum(ok.map((r) => r.requests)),
        failed: sum(ok.map((r) => r.failed)),
        seedsWithFailures: ok.filter((r) => r.failed > 0).length,
        podLifeSeconds: spread(ok.flatMap((r) => r.podLifeSeconds)),
        exitAfterLastLbConnectionSeconds: spread(ok.flatMap((r) => r.exitAfterLastLbConnectionSeconds)),
        expectedToFail: expectedToFail(strategy, regime, regimeOptions(o.base, regime)),
        maxStallMs: Math.max(0, ...ok.map((r) => r.maxStallMs)),
        incomplete: runs.length - ok.length + ok.filter((r) => !r.completed).length,
      })
    }
  }
  return { rows, unscaled: [...unscaled] }
}

export function spread(xs: number[]): SpreadWithMin {
  if (xs.length === 0) return { min: 0, p50: 0, max: 0 }
  const sorted = xs.slice().sort((a, b) => a - b)
  return { min: sorted[0]!, p50: sorted[Math.ceil(sorted.length / 2) - 1]!, max: sorted[sorted.length - 1]! }
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0)
}
function fmtList(xs: number[]): string {
  return xs.length === 0 ? '-' : xs.map((x) => x.toFixed(0)).join('/')
}
