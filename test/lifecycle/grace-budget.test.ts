// The termination budget against the pod's grace period (issue 12, item 8): a --grace-period
// that --max-wait + --drain-timeout + the margin cannot fit refuses to start (exit 2, naming
// the numbers); start-up prints the plan. The manifests test checks k8s/ with the same function.
import t from 'tap'
import { graceBudget, gracePeriodToWrite, minimumGracePeriodSeconds, GRACE_MARGIN_MAX_MS } from '../../src/lifecycle/grace-budget.js'
import { parseConfig, ConfigError } from '../../src/config.js'
import { runCli, startApp, startDrainpipe } from '../helpers/processes.js'

t.test('the budget: max-wait + drain-timeout + margin (10%, at most 10 s) against the grace period', async (t) => {
  const d = graceBudget({ maxWaitMs: 180_000, drainTimeoutMs: 30_000, gracePeriodMs: 30_000 })
  t.equal(d.marginMs, GRACE_MARGIN_MAX_MS, 'defaults: the margin is capped at 10 s')
  t.equal(d.neededMs, 220_000)
  t.notOk(d.fits, "the defaults do not fit Kubernetes' default 30 s grace period")
  t.ok(graceBudget({ maxWaitMs: 180_000, drainTimeoutMs: 30_000, gracePeriodMs: 220_000 }).fits, 'an exact fit fits')
  t.notOk(graceBudget({ maxWaitMs: 180_000, drainTimeoutMs: 30_000, gracePeriodMs: 219_999 }).fits, 'a millisecond short does not')
  t.ok(graceBudget({ maxWaitMs: 180_000, drainTimeoutMs: 30_000 }).fits, 'no grace period known: nothing to check')
  const scaled = graceBudget({ maxWaitMs: 9_000, drainTimeoutMs: 1_500, gracePeriodMs: 12_000 })
  t.equal(scaled.marginMs, 1_050, 'a time-scaled lab (x0.05) keeps the same proportions')
  t.ok(scaled.fits, 'and fits its scaled 240 s grace period')
  t.equal(
    minimumGracePeriodSeconds({ maxWaitMs: 20_500, drainTimeoutMs: 5_000 }),
    29,
    'the smallest whole grace period that fits, for pod-spec writers',
  )
})

t.test("a pod-spec writer's grace period (inject): its own margin, never below the budget, never lowering the user's", async (t) => {
  const cases = [
    {
      currentS: undefined,
      maxWaitMs: 190_000,
      drainTimeoutMs: 30_000,
      marginMs: 30_000,
      want: 250,
      why: "the defaults with inject's 30 s margin",
    },
    {
      currentS: undefined,
      maxWaitMs: 190_000,
      drainTimeoutMs: 30_000,
      marginMs: 1_000,
      want: 230,
      why: "a margin below 10 s is raised to the budget's",
    },
    { currentS: 600, maxWaitMs: 190_000, drainTimeoutMs: 30_000, marginMs: 30_000, want: 600, why: 'a larger grace period is kept' },
    {
      currentS: undefined,
      maxWaitMs: 5_000,
      drainTimeoutMs: 1_000,
      marginMs: 10_000,
      want: 30,
      why: "Kubernetes' default 30 s when it is enough",
    },
    { currentS: 45, maxWaitMs: 20_500, drainTimeoutMs: 5_000, marginMs: 10_000, want: 45, why: 'a spec value that fits is kept' },
  ]
  for (const c of cases) {
    const got = gracePeriodToWrite(c)
    t.equal(got, c.want, c.why)
    t.ok(
      graceBudget({ maxWaitMs: c.maxWaitMs, drainTimeoutMs: c.drainTimeoutMs, gracePeriodMs: got * 1000 }).fits,
      `${c.why}: fits drainpipe's own check`,
    )
  }
})

t.test('parseConfig: a grace period too short is a ConfigError naming every number', async (t) => {
  const err = (() => {
    try {
      parseConfig(['--grace-period', '30'])
      return null
    } catch (e) {
      return e
    }
  })()
  t.ok(err instanceof ConfigError, 'rejected')
  t.equal((err as ConfigError).flag, 'grace-period')
  t.match((err as ConfigError).message, /--grace-period 30 s is too short: --max-wait 190 s \+ --drain-timeout 30 s \+ 10 s margin = 230 s/)
  t.match((err as ConfigError).message, /at least 230/, 'and the smallest value that works')
  t.doesNotThrow(() => parseConfig(['--grace-period', '20', '--max-wait', '10', '--drain-timeout', '5']), '10 + 5 + 1.5 fits 20')
})

t.test('the binary: a too-small --grace-period exits 2 before serving; a fitting one prints the plan', async (t) => {
  const r = await runCli(['--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--grace-period', '30'], {}, { timeoutMs: 5000 })
  t.equal(r.code, 2, 'exit 2 (a run still going after 5 s would be killed and show null)')
  const lines = r.stderr.split('\n').filter(Boolean)
  t.equal(lines.length, 1, 'one stderr line')
  t.match(lines[0] ?? '', /^drainpipe: --grace-period 30 s is too short: --max-wait 190 s \+ --drain-timeout 30 s \+ 10 s margin = 230 s/)

  const app = await startApp(t)
  const dp = await startDrainpipe(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--max-wait',
    '100',
    '--drain-timeout',
    '20',
    '--grace-period',
    '150',
  ])
  const plan = dp.logs.find((l) => /^on termination: will wait at most/.test(String(l.msg)))
  t.equal(
    plan?.msg,
    'on termination: will wait at most 100 s for the load balancer, drain at most 20 s; SIGKILL expected at 150 s',
    'the plan at start-up',
  )
  t.equal(plan?.level, 30, 'at info')
})
