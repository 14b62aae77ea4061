// The fast lane in the scenario matrix, in its misconfiguration: a target group with unhealthy
// connection termination on. drainpipe's start-up check reads the attribute from the ELBv2
// emulator (the same value the NLB model acts on), refuses the lane and runs as pass, and loses
// nothing; the blind variant (fail the checks, sleep 60 s) has its requests in flight reset
// when the NLB marks the pod unhealthy. Full rolling updates of real pods, one seed, two runs at
// a time (~20 s).
import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULTS } from '../../bench/rollout/lab-options.js'
import { installExitHooks } from '../../bench/rollout/kube/processes.js'
import { REGIMES } from '../../bench/rollout/matrix/regimes.js'
import { runMatrix } from '../../bench/rollout/matrix/run.js'

installExitHooks()
const runDir = mkdtempSync(join(tmpdir(), 'drainpipe-fast-lane-test-'))
t.teardown(() => {
  if (t.passing()) rmSync(runDir, { recursive: true, force: true })
})

function logsUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.log'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
}

t.test('unhealthy connection termination on: the fast lane refuses and loses nothing, the blind variant loses', async (t) => {
  const lines: string[] = []
  const report = await runMatrix({
    // 300 simulated s request timeout (15 s wall): the harness's stalls are not counted as losses.
    base: { ...DEFAULTS, drainpipe: { ...DEFAULTS.drainpipe }, runDir, requestTimeoutSeconds: 300 },
    regimes: REGIMES.filter((r) => r.name === 'unhealthy-termination'),
    strategies: ['drainpipe-fast-lane', 'fail-hc+sleep-60'],
    seeds: [1],
    concurrency: 2,
    progress: (line) => lines.push(line),
  })
  t.equal(report.rows.length, 2)
  const row = (strategy: string) => report.rows.find((r) => r.strategy === strategy)!
  const context = { rows: report.rows, runs: lines, logs: runDir }
  for (const r of report.rows) t.equal(r.incomplete, 0, `${r.strategy}: the rollout completed`, context)
  const fast = row('drainpipe-fast-lane')
  const blind = row('fail-hc+sleep-60')
  t.ok(fast.requests > 0 && blind.requests > 0, 'both carried traffic')
  t.equal(fast.failed, 0, 'drainpipe-fast-lane: no failed request', context)
  t.ok(blind.failed > 0, `fail-hc+sleep-60: ${blind.failed} requests failed (reset by the NLB at the unhealthy mark)`, context)
  t.match(
    lines.join('\n'),
    /fail-hc\+sleep-60 seed 1: .*"unhealthy-termination":\d+/,
    'the NLB reset them for unhealthy connection termination',
  )
  const fastLogs = logsUnder(join(runDir, 'unhealthy-termination', 'drainpipe-fast-lane-seed1')).join('\n')
  t.match(fastLogs, /fast lane refused: .*connection_termination\.enabled is true/, "drainpipe's start-up check refused the lane")
  t.notMatch(fastLogs, /fast lane: health checks fail from now on/, 'and never failed the checks')
})
