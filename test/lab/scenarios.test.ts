// The scenario matrix end to end on its smallest cases: full rolling updates of real pods
// behind the simulated NLB, one seed, two runs at a time (~40 s). It fails if a no-sidecar
// strategy stops failing (the lab lost its teeth) or if drainpipe starts failing — in dense
// traffic and in sparse traffic (0.05 new connections/s per pod), where a decision that takes
// "no recent arrivals" for "the LB stopped" exits while the NLB still routes to the pod.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULTS } from '../../bench/rollout/lab-options.js'
import { installExitHooks } from '../../bench/rollout/kube/processes.js'
import { REGIMES } from '../../bench/rollout/matrix/regimes.js'
import { runMatrix } from '../../bench/rollout/matrix/run.js'
import { matrixJson } from '../../bench/rollout/matrix/report.js'

installExitHooks()
const runDir = mkdtempSync(join(tmpdir(), 'drainpipe-scenarios-test-'))
// Pod logs are kept when a test failed, for the diagnosis.
t.teardown(() => {
  if (t.passing()) rmSync(runDir, { recursive: true, force: true })
})

t.test('dense and sparse: none loses requests, drainpipe loses none', async (t) => {
  const lines: string[] = []
  const report = await runMatrix({
    // Requests time out after 300 simulated s (15 s wall-clock): a pod that left early refuses or
    // resets connections at once, while the 60 s default (3 s wall) also counts the harness's
    // stalls when the suite runs files in parallel (seen: one timeout after an 807 ms stall).
    base: { ...DEFAULTS, drainpipe: { ...DEFAULTS.drainpipe }, runDir, requestTimeoutSeconds: 300 },
    regimes: REGIMES.filter((r) => r.name === 'dense' || r.name === 'sparse'),
    strategies: ['none', 'drainpipe'],
    // Seed 3 draws node lags of 95–158 s for these pods: inside --lb-lag-max with a margin for
    // the controller's deregistration delay, so a drainpipe failure here is the decision's fault.
    seeds: [3],
    concurrency: 2,
    progress: (line) => lines.push(line),
  })
  t.equal(report.rows.length, 4)
  for (const row of report.rows) {
    const context = { row, runs: lines, logs: runDir }
    t.equal(row.incomplete, 0, `${row.regime}/${row.strategy}: the rollout completed`, context)
    t.ok(row.requests > 0, `${row.regime}/${row.strategy}: ${row.requests} requests`)
    if (row.strategy === 'none') {
      t.ok(
        row.failed > 0,
        `${row.regime}/none: ${row.failed} of ${row.requests} requests failed (the NLB kept routing to stopped pods)`,
        context,
      )
      t.ok(
        row.exitAfterLastLbConnectionSeconds.p50 < 0,
        `${row.regime}/none: the LB sent new connections after the pods were gone`,
        context,
      )
    } else {
      t.equal(row.failed, 0, `${row.regime}/drainpipe: no failed request`, context)
      t.ok(
        row.exitAfterLastLbConnectionSeconds.max >= 0 && row.exitAfterLastLbConnectionSeconds.p50 >= 0,
        `${row.regime}/drainpipe: every pod exited after the LB's last new connection to it (p50 ${row.exitAfterLastLbConnectionSeconds.p50} s)`,
        context,
      )
    }
  }
  const json = JSON.parse(matrixJson(report.rows)) as { scenarios: Array<Record<string, unknown>> }
  t.same(Object.keys(json.scenarios[0]!), [
    'regime',
    'strategy',
    'seeds',
    'requests',
    'failed',
    'seedsWithFailures',
    'podLifeSeconds',
    'exitAfterLastLbConnectionSeconds',
    'expectedToFail',
  ])
  t.same(Object.keys(json.scenarios[0]!.podLifeSeconds as object), ['p50', 'max'])
})
