// The scenario matrix's grpc regime end to end: long-lived gRPC channels (@grpc/grpc-js, one
// HTTP/2 connection each) calling through the simulated NLB during a rolling update of real
// pods, one seed, two runs at a time (~30 s). Without drainpipe the app's own shutdown cuts the
// channels (GOAWAY, then close) while the NLB still routes their reconnections to the dead pod:
// calls fail UNAVAILABLE. drainpipe sends GOAWAY at termination start and keeps serving the
// reconnections the NLB still sends it: no call is lost.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULTS } from '../../bench/rollout/lab-options.js'
import { parseCliArgs } from '../../bench/rollout/options.js'
import { installExitHooks } from '../../bench/rollout/kube/processes.js'
import { REGIMES } from '../../bench/rollout/matrix/regimes.js'
import { runMatrix } from '../../bench/rollout/matrix/run.js'

installExitHooks()
const runDir = mkdtempSync(join(tmpdir(), 'drainpipe-grpc-rollout-test-'))
t.teardown(() => {
  if (t.passing()) rmSync(runDir, { recursive: true, force: true })
})

t.test('--load grpc is a load mode', async (t) => {
  t.equal(parseCliArgs(['--load', 'grpc']).lab.load, 'grpc')
})

t.test('grpc regime: none loses calls, drainpipe loses none', async (t) => {
  const regime = REGIMES.find((r) => r.name === 'grpc')
  t.ok(regime, 'the matrix has a grpc regime')
  if (regime === undefined) return
  t.equal(regime.lab.load, 'grpc', 'run with the gRPC load')
  const lines: string[] = []
  const report = await runMatrix({
    // Calls' deadline 300 simulated s (15 s wall): a pod that left early refuses at once, and the
    // harness's stalls are not counted as losses.
    base: { ...DEFAULTS, drainpipe: { ...DEFAULTS.drainpipe }, runDir, requestTimeoutSeconds: 300 },
    regimes: [regime],
    strategies: ['none', 'drainpipe'],
    seeds: [1],
    concurrency: 2,
    progress: (line) => lines.push(line),
  })
  t.equal(report.rows.length, 2)
  const context = { rows: report.rows, runs: lines, logs: runDir }
  for (const r of report.rows) {
    t.equal(r.incomplete, 0, `${r.strategy}: the rollout completed`, context)
    t.ok(r.requests > 100, `${r.strategy}: ${r.requests} calls`, context)
  }
  const none = report.rows.find((r) => r.strategy === 'none')!
  const drainpipe = report.rows.find((r) => r.strategy === 'drainpipe')!
  t.ok(none.failed > 0, `none: ${none.failed} calls failed`, context)
  t.match(lines.join('\n'), /grpc none seed 1: .*"UNAVAILABLE[^"]*":\d+/, 'none: the lost calls end UNAVAILABLE')
  t.equal(drainpipe.failed, 0, 'drainpipe: no call failed', context)
  t.ok(drainpipe.exitAfterLastLbConnectionSeconds.min >= 0, 'every old pod exited after the LB last routed to it', context)
})
