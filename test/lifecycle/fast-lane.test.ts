// The fast lane (--health-check-on-terminate fail) end to end: a real drainpipe process, real
// sockets, the NLB's LOCAL-header HTTP health check, a dedicated health-check port, and the
// ELBv2 emulator for the start-up check of the target group's attributes. Each test runs the
// default (pass) as its control: that is what drainpipe did before the lane existed.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { freePort, startApp, startDrainpipe, type Drainpipe } from '../helpers/processes.js'
import { parseResponse, rawExchange } from '../helpers/http.js'
import { encodeV2 } from '../../src/proxy-protocol/encode.js'
import { startElbv2Emulator } from '../../bench/rollout/elbv2/index.js'
import { ConfigError, parseConfig } from '../../src/config.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1' }

/** The NLB's HTTP health check with PROXY v2 on: a LOCAL header (100 bytes, CRC32C) and a GET. */
const LOCAL_CHECK = Buffer.concat([
  encodeV2({ command: 'LOCAL', family: 'TCP4', crc32c: true, padTo: 100 }),
  Buffer.from('GET / HTTP/1.1\r\nHost: 10.0.0.5:8080\r\nUser-Agent: ELB-HealthChecker/2.0\r\nConnection: close\r\n\r\n', 'latin1'),
])

async function localCheck(port: number): Promise<number> {
  const { data } = await rawExchange(port, LOCAL_CHECK)
  return parseResponse(data).status
}

/** A TCP health check: connect and close. 'refused' when nothing accepts. */
async function tcpCheck(port: number): Promise<'connected' | 'refused'> {
  const s = net.connect({ port, host: '127.0.0.1' })
  try {
    await once(s, 'connect')
    return 'connected'
  } catch {
    return 'refused'
  } finally {
    s.destroy()
  }
}

async function httpCheck(port: number): Promise<number | 'refused'> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).status
  } catch {
    return 'refused'
  }
}

async function clientGet(dp: Drainpipe): Promise<number> {
  const res = await fetch(dp.url, { headers: { connection: 'close' } })
  await res.text()
  return res.status
}

t.test('the options: defaults, and bad values name the flag', async (t) => {
  const parsed = parseConfig([], {})
  t.ok(
    parsed.kind === 'config' &&
      parsed.config.healthCheckOnTerminate === 'pass' &&
      parsed.config.healthCheckListen === undefined &&
      parsed.config.lbUnhealthyLagMaxMs === 60_000,
    'pass, no health-check port, 60 s',
  )
  const env = parseConfig([], { DRAINPIPE_HEALTH_CHECK_ON_TERMINATE: 'fail', DRAINPIPE_HEALTH_CHECK_LISTEN: '8081' })
  t.ok(
    env.kind === 'config' && env.config.healthCheckOnTerminate === 'fail' && env.config.healthCheckListen?.port === 8081,
    'from the environment',
  )
  t.throws(
    () => parseConfig(['--health-check-on-terminate', 'yes'], {}),
    new ConfigError('invalid --health-check-on-terminate "yes": expected one of fail, pass', 'health-check-on-terminate'),
  )
  t.throws(() => parseConfig(['--health-check-listen', '8080'], {}), {
    flag: 'health-check-listen',
    message: /port 8080 is also the --listen port/,
  })
  t.throws(() => parseConfig(['--health-check-listen', '127.0.0.1:9901'], {}), {
    flag: 'health-check-listen',
    message: /port 9901 is also the --admin port/,
  })
  t.throws(() => parseConfig(['--lb-unhealthy-lag-max', '-1'], {}), { flag: 'lb-unhealthy-lag-max' })
})

const drainingLine = (dp: Drainpipe) => dp.logs.find((l) => l.from === 'terminating' && l.to === 'draining')

t.test('fail: HTTP health checks on the pod port get 503 from termination start while clients are served; pass keeps 200', async (t) => {
  const app = await startApp(t)
  for (const mode of ['pass', 'fail'] as const) {
    const dp = await startDrainpipe(t, [
      '--upstream',
      `127.0.0.1:${app.port}`,
      '--health-check-on-terminate',
      mode,
      // No traffic history: the decision waits the lag bound. The fast lane's is 1.5 s, the
      // deregistration lane's 30 s (then --max-wait 3 ends it, exit 3).
      '--lb-unhealthy-lag-max',
      '1.5',
      '--lb-lag-max',
      '30',
      '--max-wait',
      '3',
    ])
    t.equal(await localCheck(dp.port), 200, `${mode}: healthy before termination`)
    const started = performance.now()
    dp.proc.kill('SIGTERM')
    await dp.waitForLog((l) => l.to === 'terminating')
    // The lane engages right after the transition (logged); the control has nothing to wait for.
    if (mode === 'fail')
      await dp.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('fast lane: health checks fail from now on'))
    t.equal(await localCheck(dp.port), mode === 'fail' ? 503 : 200, `${mode}: LOCAL + GET during terminating`)
    t.equal(await clientGet(dp), 200, `${mode}: a client request is still forwarded`)
    t.equal(await localCheck(dp.port), mode === 'fail' ? 503 : 200, `${mode}: and the checks keep their answer`)
    const status = (await (await fetch(`${dp.adminUrl}/status`)).json()) as any
    t.equal(status.fastLane.failingHealthChecks, mode === 'fail', `${mode}: /status says whether checks are failed`)
    t.equal(
      status.decision.lagBound.bound,
      mode === 'fail' ? '--lb-unhealthy-lag-max' : '--lb-lag-max',
      `${mode}: /status names the lag bound`,
    )
    const exit = await dp.exited
    const took = (performance.now() - started) / 1000
    const line = drainingLine(dp) as any
    if (mode === 'fail') {
      t.equal(exit.code, 0, 'fail: ends on the lag bound, not --max-wait')
      t.ok(took >= 1.5 && took < 3, `fail: drained after --lb-unhealthy-lag-max from termination start (${took.toFixed(2)} s)`)
      t.match(line, {
        basis: 'lag-bound',
        reason: /--lb-unhealthy-lag-max passed since health checks started failing/,
        lagBound: {
          bound: '--lb-unhealthy-lag-max',
          lagMaxSeconds: 1.5,
          why: /fast lane: health checks fail from termination start/,
          deregistration: 'termination start (health checks failing)',
        },
      })
    } else {
      t.equal(exit.code, 3, 'pass: the 30 s lag bound outlasts --max-wait')
      t.match(line, { lagBound: { bound: '--lb-lag-max' } })
    }
  }
})

t.test('--health-check-listen: TCP and HTTP checks are answered; fail closes it at termination start, pass at draining', async (t) => {
  const app = await startApp(t)
  for (const mode of ['pass', 'fail'] as const) {
    const hcPort = await freePort()
    const dp = await startDrainpipe(t, [
      '--upstream',
      `127.0.0.1:${app.port}`,
      '--health-check-on-terminate',
      mode,
      '--health-check-listen',
      `127.0.0.1:${hcPort}`,
      '--lb-unhealthy-lag-max',
      '1.5',
      '--lb-lag-max',
      '1.5',
    ])
    t.equal(await tcpCheck(hcPort), 'connected', `${mode}: TCP check connects before termination`)
    t.equal(await httpCheck(hcPort), 200, `${mode}: HTTP check 200 before termination`)
    t.equal(await localCheck(hcPort), 200, `${mode}: and behind a PROXY v2 LOCAL header`)
    dp.proc.kill('SIGTERM')
    await dp.waitForLog((l) => l.to === 'terminating')
    // Closed right after the transition is logged: a check racing that moment may still connect
    // (and be reset); the log line after the close is the moment it is shut.
    if (mode === 'fail') await dp.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('the health-check port is closed'))
    t.equal(await tcpCheck(hcPort), mode === 'fail' ? 'refused' : 'connected', `${mode}: TCP check during terminating`)
    t.equal(await httpCheck(hcPort), mode === 'fail' ? 'refused' : 200, `${mode}: HTTP check during terminating`)
    t.equal(await clientGet(dp), 200, `${mode}: the pod port still serves clients`)
    t.equal(await tcpCheck(dp.port), 'connected', `${mode}: and still accepts`)
    await dp.waitForLog((l) => l.to === 'draining')
    if (mode === 'pass') await dp.waitForLog((l) => l.msg === 'health-check port closed: draining')
    t.equal(await tcpCheck(hcPort), 'refused', `${mode}: closed once draining`)
    t.equal((await dp.exited).code, 0)
  }
})

t.test(
  'start-up check against the ELBv2 emulator: refused when unhealthy connection termination is on or the draining interval is short; verified when it fits',
  async (t) => {
    const emu = await startElbv2Emulator({ consistencyLagMs: 0 })
    t.teardown(() => emu.close())
    const cases = [
      {
        name: 'tg-terminate',
        attributes: {},
        state: 'refused',
        mode: 'pass',
        why: /connection_termination\.enabled is true: failing the health checks would reset every connection in flight/,
      },
      {
        name: 'tg-short',
        attributes: {
          'target_health_state.unhealthy.connection_termination.enabled': 'false',
          'target_health_state.unhealthy.draining_interval_seconds': '30',
        },
        state: 'refused',
        mode: 'pass',
        why: /draining_interval_seconds is 30: shorter than the 100 s/,
      },
      {
        name: 'tg-fits',
        attributes: {
          'target_health_state.unhealthy.connection_termination.enabled': 'false',
          'target_health_state.unhealthy.draining_interval_seconds': '100',
        },
        state: 'verified',
        mode: 'fail',
        why: /draining interval 100 s ≥ 100 s/,
      },
    ] as const
    const app = await startApp(t)
    for (const c of cases) {
      const arn = emu.createTargetGroup({ name: c.name, port: 8080, attributes: c.attributes })
      const dp = await startDrainpipe(
        t,
        [
          '--upstream',
          `127.0.0.1:${app.port}`,
          '--health-check-on-terminate',
          'fail',
          '--target-group-arn',
          arn,
          '--elbv2-endpoint',
          emu.url,
          '--elbv2-poll-interval',
          '0.2',
          // needs 60 + 10 + 30 = 100 s of unhealthy draining
          '--lb-unhealthy-lag-max',
          '60',
          '--drain-timeout',
          '30',
          '--lb-lag-max',
          '1',
          '--max-wait',
          '1.5',
        ],
        { env: AWS_ENV },
      )
      const settled = await dp.waitForLog((l) => typeof l.msg === 'string' && /^fast lane (refused|verified|on, but)/.test(l.msg))
      t.equal(settled.level, c.state === 'refused' ? 50 : 30, `${c.name}: ${c.state === 'refused' ? 'an error' : 'info'} in the log`)
      const status = (await (await fetch(`${dp.adminUrl}/status`)).json()) as any
      t.equal(status.fastLane.targetGroupCheck.state, c.state, `${c.name}: /status says ${c.state}`)
      t.match(status.fastLane.targetGroupCheck.why, c.why, `${c.name}: and why`)
      t.equal(status.fastLane.mode, c.mode, `${c.name}: the mode is ${c.mode}`)
      t.equal(emu.stats().calls.DescribeTargetGroupAttributes !== undefined, true, 'DescribeTargetGroupAttributes was called')
      dp.proc.kill('SIGTERM')
      await dp.waitForLog((l) => l.to === 'terminating')
      if (c.mode === 'fail')
        await dp.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('fast lane: health checks fail from now on'))
      t.equal(await localCheck(dp.port), c.mode === 'fail' ? 503 : 200, `${c.name}: health checks during terminating follow the mode`)
      await dp.exited
    }

    // Without a permission or a target group to read: the mode stays on, with a warning.
    const missing = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg-gone/0123456789abcdef'
    for (const args of [['--target-group-arn', missing, '--elbv2-endpoint', emu.url], []]) {
      const dp = await startDrainpipe(
        t,
        [
          '--upstream',
          `127.0.0.1:${app.port}`,
          '--health-check-on-terminate',
          'fail',
          '--lb-unhealthy-lag-max',
          '0.5',
          '--elbv2-poll-interval',
          '0.2',
          ...args,
        ],
        { env: AWS_ENV },
      )
      const warned = await dp.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('fast lane on, but could not verify'))
      t.equal(warned.level, 40, 'a warning')
      const status = (await (await fetch(`${dp.adminUrl}/status`)).json()) as any
      t.equal(status.fastLane.targetGroupCheck.state, 'unverified')
      t.match(
        status.fastLane.targetGroupCheck.why,
        args.length > 0 ? /TargetGroupNotFound(Exception)?: no such target group/ : /no --target-group-arn/,
      )
      t.equal(status.fastLane.mode, 'fail', 'the mode stays fail')
      dp.proc.kill('SIGTERM')
      await dp.exited
    }
  },
)

t.test(
  'fail-open: new connections keep coming past --lb-unhealthy-lag-max; the pod serves them all and drains only once they stop',
  async (t) => {
    const app = await startApp(t)
    const dp = await startDrainpipe(t, [
      '--upstream',
      `127.0.0.1:${app.port}`,
      '--health-check-on-terminate',
      'fail',
      '--lb-unhealthy-lag-max',
      '0.5',
      '--lb-lag-max',
      '30',
      // The window is 15 times the client's 100 ms cadence: a loaded test machine can stall the
      // client for a few hundred ms, and a gap as long as the window is quiet by definition.
      '--quiet-period',
      '1.5',
      '--max-wait',
      '20',
    ])
    const started = performance.now()
    dp.proc.kill('SIGTERM')
    await dp.waitForLog((l) => l.to === 'terminating')
    // The NLB fails open (every target unhealthy): it keeps sending for 2.5 s, 5 times the bound.
    const statuses: number[] = []
    let sentAt = performance.now()
    let longestGapMs = 0
    while (performance.now() - started < 2500) {
      const now = performance.now()
      longestGapMs = Math.max(longestGapMs, now - sentAt)
      sentAt = now
      statuses.push(await clientGet(dp))
      t.equal(dp.proc.exitCode, null)
      await sleep(100)
    }
    t.ok(longestGapMs < 1500, `the client never paused as long as the window (longest gap ${Math.round(longestGapMs)} ms)`)
    t.ok(
      statuses.length >= 10 && statuses.every((s) => s === 200),
      `every one of ${statuses.length} requests served (${[...new Set(statuses)]})`,
    )
    const draining = (await dp.waitForLog((l) => l.to === 'draining')) as any
    // drainpipe's own clock: the last connection came long past the 0.5 s bound, and draining
    // began a whole --quiet-period after it.
    t.ok(draining.lastConnectionMs >= 2000, `connections until ${draining.lastConnectionMs} ms after termination start`)
    t.ok(
      draining.waitedMs - draining.lastConnectionMs >= 1500,
      `drained ${draining.waitedMs - draining.lastConnectionMs} ms after the last connection: not before its window`,
    )
    t.match(draining, {
      basis: 'lag-bound',
      lagBound: {
        bound: '--lb-unhealthy-lag-max',
        connectionsAfterDeadline: true,
        afterDeadline: /fails open when every target is unhealthy/,
      },
    })
    t.equal((await dp.exited).code, 0, 'ended by the decision, not --max-wait')
  },
)

t.test(
  'a container restart after a /prestop drain: the health-check port reopens and checks pass; the next termination fails them again',
  async (t) => {
    const app = await startApp(t)
    const hcPort = await freePort()
    const dp = await startDrainpipe(t, [
      '--upstream',
      `127.0.0.1:${app.port}`,
      '--health-check-on-terminate',
      'fail',
      '--health-check-listen',
      `127.0.0.1:${hcPort}`,
      '--lb-unhealthy-lag-max',
      '0.3',
      '--quiet-period',
      '0.3',
      '--drain-timeout',
      '2',
    ])
    const prestop = await fetch(`${dp.adminUrl}/prestop`)
    t.equal(prestop.status, 200, 'the first termination drained')
    await prestop.text()
    t.equal(await tcpCheck(hcPort), 'refused', 'the health-check port is closed')
    // The app container restarts (no SIGTERM to drainpipe): drainpipe serves again.
    app.proc.kill('SIGTERM')
    await app.exited
    await dp.waitForLog((l) => /^app unreachable/.test(String(l.msg)), 5000)
    await startApp(t, { port: app.port, name: 'app-restarted' })
    await dp.waitForLog((l) => l.from === 'drained' && l.to === 'ready', 5000)
    // Reopened right after the transition: wait until it accepts (at most a moment).
    let reopened: 'connected' | 'refused' = 'refused'
    for (let i = 0; i < 50 && reopened === 'refused'; i++) {
      reopened = await tcpCheck(hcPort)
      if (reopened === 'refused') await sleep(20)
    }
    t.equal(reopened, 'connected', 'the health-check port is open again')
    t.equal(await httpCheck(hcPort), 200, 'and its checks pass')
    t.equal(await localCheck(dp.port), 200, "so do the pod port's")
    const second = fetch(`${dp.adminUrl}/prestop`)
    await dp.waitForLog(
      (l) =>
        typeof l.msg === 'string' &&
        l.msg.startsWith('fast lane: health checks fail from now on') &&
        dp.logs.filter((x) => x.to === 'terminating').length === 2,
    )
    t.equal(await localCheck(dp.port), 503, 'the second termination fails the checks again')
    t.equal(await tcpCheck(hcPort), 'refused', 'and closes the port again')
    t.equal((await second).status, 200)
    dp.proc.kill('SIGTERM')
    t.equal((await dp.exited).code, 0)
  },
)
