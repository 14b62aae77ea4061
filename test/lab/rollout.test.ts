// End to end: a rolling update of real pods behind the simulated NLB, under autocannon load,
// time-scaled. The lab must see failures when pods stop serving while the NLB still sends
// new connections (`none`), and drainpipe must complete the same rollout with none failed.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULTS, runStrategy, type LabOptions } from '../../bench/rollout/scenario.js'
import { installExitHooks } from '../../bench/rollout/kube/processes.js'

installExitHooks()
const runDir = mkdtempSync(join(tmpdir(), 'drainpipe-rollout-test-'))
// Pod logs are kept when a test failed, for the diagnosis.
t.teardown(() => {
  if (t.passing()) rmSync(runDir, { recursive: true, force: true })
})

const lab: LabOptions = {
  ...DEFAULTS,
  replicas: 2,
  // 1 simulated s = 30 ms: NLB lag 120 s → 3.6 s, grace 240 s → 7.2 s.
  timeScale: 0.03,
  lag: '120',
  warmupSeconds: 30,
  // A shared 2-core machine can stall the load generator for most of a second: the closed-loop
  // load is dense enough that drainpipe's auto window sits at its floor, raised to 1 s wall-clock
  // (33 simulated s: the last new connection at ~122 s + 33 s stays inside --max-wait 190).
  windowFloorWallSeconds: 1,
  timeoutSeconds: 50,
  drainpipeLogLevel: 'info',
  runDir,
}

const noProgress = (): void => {}

t.test('none: the app stops on SIGTERM while the NLB still routes to it — requests fail', async (t) => {
  const r = await runStrategy('none', lab, 1, noProgress)
  t.ok(r.completed, 'the rollout completed')
  t.ok(r.flowsToDeregistered > 0, `${r.flowsToDeregistered} new connections reached deregistered targets (the lag)`)
  t.ok(r.failed > 0, `${r.failed} of ${r.requests} requests failed (${JSON.stringify(r.errorsByCode)})`)
  t.ok(r.resets > 0, 'as resets/refused connections')
})

t.test('drainpipe: the same rollout under the same load, zero failed requests', async (t) => {
  const r = await runStrategy('drainpipe', lab, 2, noProgress)
  t.ok(r.completed, 'the rollout completed')
  t.ok(r.requests > 200, `${r.requests} requests under load`)
  t.ok(r.flowsToDeregistered > 0, `${r.flowsToDeregistered} new connections reached deregistered targets, and were served`)
  t.equal(r.failed, 0, 'no failed request', { errorsByCode: r.errorsByCode, podEvents: r.podEvents, logs: runDir })
  t.ok(
    r.meanSecondsAfterTermination >= 120,
    `old pods served ${r.meanSecondsAfterTermination} simulated s after SIGTERM, past the 120 s lag`,
  )
  t.ok(
    r.exitAfterLastLbConnectionSeconds.every((s) => s >= 0),
    `each old pod exited after the LB's last new connection to it (${r.exitAfterLastLbConnectionSeconds.join(', ')} s)`,
  )
  t.ok(
    r.podEvents.some((e) => /preStop GET \/prestop: 200/.test(e)),
    "the app's preStop waited on drainpipe's /prestop",
  )
  t.ok(
    r.podEvents.filter((e) => / exited /.test(e)).every((e) => / exited 0$/.test(e)),
    'every container exited 0',
    { podEvents: r.podEvents },
  )
})
