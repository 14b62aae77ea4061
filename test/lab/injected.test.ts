// The lab's pods from an injected spec: a Deployment goes through `drainpipe inject`'s own
// transform, and the pods run what inject wrote (drainpipe's env parsed by its config parser, the
// ports, the app's preStop hook with the admin token header, the readiness probes, the grace
// period). One rollout from the example spec loses nothing and drains through the spec's hook;
// one from a spec annotated with a --max-wait too short for the NLB's lag loses requests, so the
// lab does run the spec's settings.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULTS, type LabOptions } from '../../bench/rollout/lab-options.js'
import { installExitHooks } from '../../bench/rollout/kube/processes.js'
import { planFromFile, planFromManifest } from '../../bench/rollout/kube/injected-spec.js'
import { runStrategy } from '../../bench/rollout/scenario.js'
import { LAB_DEPLOYMENT } from '../../bench/rollout/strategies.js'

installExitHooks()
const runDir = mkdtempSync(join(tmpdir(), 'drainpipe-injected-test-'))
t.teardown(() => {
  if (t.passing()) rmSync(runDir, { recursive: true, force: true })
})

t.test('the pod plan comes from what inject wrote', async (t) => {
  const plan = planFromFile(LAB_DEPLOYMENT)
  t.equal(plan.native, true, 'drainpipe as a native sidecar (inject’s default)')
  t.equal(plan.lbPort, 18080, 'the LB-facing port: drainpipe’s --listen from the spec (drainpipe.io/listen-port)')
  t.equal(plan.appPort, 13000, 'the app keeps its number')
  t.equal(plan.appContainer, 'app')
  t.equal(plan.config.proxyProtocol, 'required', 'drainpipe.io/proxy-protocol reached drainpipe’s config')
  t.equal(plan.config.maxWaitMs, 190_000, 'drainpipe’s own default --max-wait')
  t.equal(plan.gracePeriodSeconds, 250, 'terminationGracePeriodSeconds as inject sized it (190 + 30 + a 30 s margin)')
  t.ok(plan.config.adminToken, 'inject generated an admin token')
  t.same(
    plan.appPreStop,
    { port: 19901, path: '/prestop', headers: { Authorization: `Bearer ${plan.config.adminToken}` } },
    'the app’s preStop: GET /prestop on the admin port with the token drainpipe was given',
  )
  t.same(
    plan.readiness.map((r) => [r.container, r.port, r.path]).sort(),
    [
      ['app', 13000, '/health'],
      ['drainpipe', 19901, '/readyz'],
    ],
    'both readiness probes, named ports resolved',
  )
  const shorter = planFromManifest(
    readFileSync(LAB_DEPLOYMENT, 'utf8').replace(
      'drainpipe.io/listen-port: "18080"',
      'drainpipe.io/listen-port: "18080"\n        drainpipe.io/max-wait: "40"',
    ),
    'short.yaml',
  )
  t.equal(shorter.config.maxWaitMs, 40_000, 'an annotation changes drainpipe’s setting')
  t.equal(shorter.gracePeriodSeconds, 100, 'and the grace period inject sizes from it')
})

t.test('rollouts from injected specs: the example loses nothing; a --max-wait too short for the lag loses', async (t) => {
  const short = join(runDir, 'short-max-wait.yaml')
  writeFileSync(
    short,
    readFileSync(LAB_DEPLOYMENT, 'utf8').replace(
      'drainpipe.io/listen-port: "18080"',
      'drainpipe.io/listen-port: "18080"\n        drainpipe.io/max-wait: "40"',
    ),
  )
  const lab = (name: string, podSpecPath: string): LabOptions => ({
    ...DEFAULTS,
    drainpipe: {},
    runDir: join(runDir, name),
    podSpecPath,
    load: 'poisson',
    ratePerPod: 2,
    maxSurge: 3,
    // 300 simulated s (15 s wall): a harness stall is not counted as a loss; refusals are immediate.
    requestTimeoutSeconds: 300,
    seed: 3,
  })
  const [example, shortRun] = await Promise.all([
    runStrategy('injected', lab('example', LAB_DEPLOYMENT), 1, () => {}),
    runStrategy('injected', lab('short', short), 2, () => {}),
  ])
  const context = { example: { ...example, timeline: undefined }, short: { ...shortRun, timeline: undefined }, logs: runDir }
  t.ok(example.completed && shortRun.completed, 'both rollouts completed', context)
  t.equal(example.failed, 0, `the example spec: ${example.requests} requests, none failed`, context)
  t.ok(
    example.podEvents.filter((e) => /app preStop GET \/prestop: 200$/.test(e)).length === 3,
    'each old pod’s app preStop reached drainpipe’s /prestop with the spec’s token (200)',
    context,
  )
  t.ok(shortRun.failed > 0, `the short --max-wait: ${shortRun.failed} of ${shortRun.requests} requests failed`, context)
  // Simulated seconds: a harness stall of 1 s wall is 20 s here, so the claim is checked against
  // the lab's own record (the LB's lag still running when each pod exited), not a fixed bound.
  t.ok(
    shortRun.lagEndAfterExitSeconds.length === 3 && shortRun.lagEndAfterExitSeconds.every((s) => s > 0),
    `its pods left after ${shortRun.podLifeSeconds.join(', ')} s (max-wait 40 s), while the LB still routed (for ${shortRun.lagEndAfterExitSeconds.join(', ')} s more)`,
    context,
  )
  t.ok(
    Math.max(...shortRun.podLifeSeconds) < Math.min(...example.podLifeSeconds),
    'sooner than any pod of the example spec, which waited for the lag',
    context,
  )
})
