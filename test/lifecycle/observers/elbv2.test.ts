// The elbv2 observer: the real @aws-sdk/client-elastic-load-balancing-v2 client over HTTP against
// the rollout lab's ELBv2 emulator.
import t from 'tap'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { startElbv2Emulator, type Elbv2EmulatorOptions } from '../../../bench/rollout/elbv2/index.js'
import {
  Elbv2Observer,
  isDeregisteredState,
  isRegisteredState,
  type Elbv2CallOutcome,
  type Elbv2ObserverOptions,
} from '../../../src/lifecycle/observers/elbv2.js'
import { LagClock } from '../../../src/lifecycle/lag-clock.js'
import type { DeregistrationObserver } from '../../../src/lifecycle/observers/observer.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

const POD = { id: '10.0.1.23', port: 8080 }
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }

async function emulator(t: Teardown, opts: Elbv2EmulatorOptions = {}) {
  const emu = await startElbv2Emulator({ consistencyLagMs: 0, ...opts })
  t.teardown(() => emu.close())
  return emu
}

function observe(t: Teardown, opts: Partial<Elbv2ObserverOptions> & Pick<Elbv2ObserverOptions, 'targetGroupArns' | 'endpoint'>) {
  const calls: Record<Elbv2CallOutcome, number> = { ok: 0, throttled: 0, error: 0 }
  const warnings: Array<Record<string, unknown>> = []
  const errors: Array<{ obj: Record<string, unknown>; msg: string }> = []
  const lagClock = new LagClock(60_000, true)
  const observer = new Elbv2Observer({
    targetId: POD.id,
    targetPort: POD.port,
    region: 'us-east-1',
    credentials,
    pollIntervalMs: 50,
    // The default request timeout is tied to the interval (here 1 s). These tests are about
    // states and counts, not latency: a CPU-starved machine must not turn a slow answer into an
    // error. The timeout itself is tested with a hung endpoint below.
    requestTimeoutMs: 10_000,
    hook: {
      onCall(outcome) {
        calls[outcome]++
      },
    },
    logger: {
      info() {},
      debug() {},
      warn(obj) {
        warnings.push(obj as Record<string, unknown>)
      },
      error(obj, msg) {
        errors.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' })
      },
    },
    lagClock,
    ...opts,
  })
  t.teardown(() => observer.stop())
  const start = (at = performance.now()): number => {
    lagClock.start(at)
    observer.start(at)
    return at
  }
  return { observer, calls, warnings, errors, lagClock, start }
}

/** Resolves when `o` is (or next becomes) satisfied. */
function whenSatisfied(o: DeregistrationObserver): Promise<void> {
  return new Promise((resolve) => {
    if (o.satisfied) resolve()
    else
      o.onChange(() => {
        if (o.satisfied) resolve()
      })
  })
}

/** Polls `cond` every 10 ms; fails after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(10)
  }
}

type GroupView = {
  arn: string
  state: string | null
  reason: string | null
  calls: number
  throttled: number
  errors: number
  deregistered: boolean
  everRegistered: boolean
  cannotTell: string | null
  deregisteredAfterSeconds: number | null
  lastError: { code: string } | null
}
const groups = (o: Elbv2Observer) => o.view().targetGroups as GroupView[]

t.test('the satisfied states', async (t) => {
  t.ok(isDeregisteredState('draining', 'Target.DeregistrationInProgress'))
  t.ok(isDeregisteredState('unused', 'Target.NotRegistered'))
  t.notOk(isDeregisteredState('unused', 'Target.InvalidState'))
  t.notOk(isDeregisteredState('healthy', undefined))
  t.notOk(isDeregisteredState('unhealthy.draining', 'Target.FailedHealthChecks'))
  t.notOk(isDeregisteredState(null, null))
})

t.test('does not poll before start(); healthy → draining → satisfied, then stops polling', async (t) => {
  const emu = await emulator(t)
  const arn = emu.createTargetGroup({ name: 'web', port: POD.port })
  emu.setTargetHealth(arn, POD.id, POD.port, 'healthy')
  const { observer, calls, lagClock, start } = observe(t, { targetGroupArns: [arn], endpoint: emu.url })
  await sleep(200)
  t.equal(emu.stats().calls.DescribeTargetHealth ?? 0, 0, 'no DescribeTargetHealth before termination')

  const startedAt = start()
  await until(() => calls.ok >= 3, 5_000, 'three answers')
  t.notOk(observer.satisfied, 'healthy is not deregistered')
  t.equal(lagClock.deadline, undefined, 'the lag clock waits for elbv2')
  t.equal(groups(observer)[0]!.state, 'healthy')

  emu.setTargetHealth(arn, POD.id, POD.port, 'draining')
  await whenSatisfied(observer)
  const g = groups(observer)[0]!
  t.equal(g.state, 'draining')
  t.equal(g.reason, 'Target.DeregistrationInProgress')
  t.equal(g.deregistered, true)
  const callsAtSatisfaction = emu.stats().calls.DescribeTargetHealth
  await sleep(250)
  t.equal(emu.stats().calls.DescribeTargetHealth, callsAtSatisfaction, 'no polling once satisfied')
  t.equal(calls.ok, callsAtSatisfaction, 'every call counted through the hook')
  t.equal(calls.throttled + calls.error, 0, `no throttle or error (last: ${JSON.stringify(groups(observer)[0]!.lastError)})`)
  t.equal(observer.view().polling, false)
  t.ok(typeof observer.view().satisfiedAfterSeconds === 'number')
  // draining says when, not whether: it starts the lag clock.
  t.equal((lagClock.view() as { deregistration: string }).deregistration, 'elbv2')
  t.ok(lagClock.deregisteredAt! > startedAt, 'from when draining was first seen')
  t.equal(lagClock.deadline, lagClock.deregisteredAt! + 60_000)
  t.equal(g.deregisteredAfterSeconds, observer.summary().deregistrationSeenAfterSeconds)
  t.equal(observer.summary().groupsThatCannotTell, 0)
})

t.test(
  'draining runs out into unused (Target.NotRegistered): both satisfy once seen registered; other unused reasons do not',
  async (t) => {
    t.ok(isRegisteredState('healthy') && isRegisteredState('initial') && isRegisteredState('unhealthy.draining'))
    t.notOk(isRegisteredState('unused') || isRegisteredState('draining') || isRegisteredState(null))
    // timeScale 0.01: a 30 s deregistration delay lasts 300 ms.
    const emu = await emulator(t, { timeScale: 0.01 })
    const arn = emu.createTargetGroup({ name: 'web', port: POD.port, deregistrationDelaySeconds: 30 })
    emu.setTargetHealth(arn, POD.id, POD.port, 'unused', 'Target.InvalidState')
    const { observer, calls, errors, start } = observe(t, { targetGroupArns: [arn], endpoint: emu.url })
    start()
    await until(() => calls.ok >= 3, 5_000, 'three answers')
    t.notOk(observer.satisfied, 'unused for another reason is not deregistration')
    t.equal(groups(observer)[0]!.reason, 'Target.InvalidState')

    emu.setTargetHealth(arn, POD.id, POD.port, 'healthy')
    await until(() => groups(observer)[0]!.everRegistered, 5_000, 'the target seen registered')
    emu.setTargetHealth(arn, POD.id, POD.port, 'draining')
    await sleep(400) // the delay expires: the API now says unused / Target.NotRegistered
    const direct = emu.targetGroup(arn).healthAt(POD.id, POD.port)
    t.same(
      { state: direct.state, reason: direct.reason },
      { state: 'unused', reason: 'Target.NotRegistered' },
      'emulator moved on to unused',
    )
    await whenSatisfied(observer)
    t.equal(observer.satisfied, true)
    t.equal(groups(observer)[0]!.deregistered, true)
    t.same(errors, [])
  },
)

t.test('removed straight from healthy to unused (Target.NotRegistered), after being seen registered: deregistered', async (t) => {
  const emu = await emulator(t)
  const arn = emu.createTargetGroup({ name: 'web', port: POD.port })
  emu.setTargetHealth(arn, POD.id, POD.port, 'healthy')
  const { observer, lagClock, start } = observe(t, { targetGroupArns: [arn], endpoint: emu.url })
  start()
  await until(() => groups(observer)[0]!.everRegistered, 5_000, 'the target seen registered')
  emu.setTargetHealth(arn, POD.id, POD.port, 'unused', 'Target.NotRegistered')
  await whenSatisfied(observer)
  t.same([groups(observer)[0]!.deregistered, groups(observer)[0]!.cannotTell], [true, null])
  t.equal((lagClock.view() as { deregistration: string }).deregistration, 'elbv2')
})

t.test('two target groups must both agree', async (t) => {
  const emu = await emulator(t)
  const a = emu.createTargetGroup({ name: 'web-a', port: POD.port })
  const b = emu.createTargetGroup({ name: 'web-b', port: POD.port })
  emu.setTargetHealth(a, POD.id, POD.port, 'healthy')
  emu.setTargetHealth(b, POD.id, POD.port, 'healthy')
  const { observer, calls, start } = observe(t, { targetGroupArns: [a, b], endpoint: emu.url })
  start()
  await until(() => calls.ok >= 2, 5_000, 'first answers')

  emu.setTargetHealth(a, POD.id, POD.port, 'draining')
  await until(() => groups(observer)[0]!.state === 'draining', 5_000, 'group a draining')
  const aCalls = groups(observer)[0]!.calls
  await until(() => groups(observer)[1]!.calls >= 3, 5_000, 'more polls of b')
  t.notOk(observer.satisfied, 'a draining, b healthy: not satisfied')
  t.equal(groups(observer)[1]!.state, 'healthy')
  t.equal(groups(observer)[0]!.calls, aCalls, 'a deregistered group is not polled again')

  emu.setTargetHealth(b, POD.id, POD.port, 'unused', 'Target.NotRegistered')
  await whenSatisfied(observer)
  t.same(
    groups(observer).map((g) => [g.state, g.reason]),
    [
      ['draining', 'Target.DeregistrationInProgress'],
      ['unused', 'Target.NotRegistered'],
    ],
  )
})

t.test('throttling: backs off exponentially, SDK retries off, every call and throttle counted', async (t) => {
  // A tiny bucket: 2 tokens, one more every 2 s. Polling every 50 ms would need 20/s.
  const emu = await emulator(t, { describeBurst: 2, describeRefillPerSecond: 0.5 })
  const arn = emu.createTargetGroup({ name: 'web', port: POD.port })
  emu.setTargetHealth(arn, POD.id, POD.port, 'healthy')
  const { observer, calls, warnings, start } = observe(t, { targetGroupArns: [arn], endpoint: emu.url, maxBackoffMs: 800 })
  let maxConsecutive = 0
  let maxNextPoll = 0
  const startedAt = start()
  const watch = setInterval(() => {
    const v = observer.view()
    maxConsecutive = Math.max(maxConsecutive, v.consecutiveThrottledTicks as number)
    maxNextPoll = Math.max(maxNextPoll, (v.nextPollInSeconds as number | null) ?? 0)
  }, 5)
  t.teardown(() => clearInterval(watch))
  await sleep(2_500)
  // Compare counts between two calls: one in flight has reached the server but not yet the hook.
  await until(() => observer.view().nextPollInSeconds !== null, 5_000, 'a pause between calls')
  const elapsed = (performance.now() - startedAt) / 1000
  const stats = emu.stats()
  const total = stats.calls.DescribeTargetHealth ?? 0
  t.ok(calls.throttled >= 1, `throttled ${calls.throttled} times`)
  t.equal(
    calls.throttled,
    stats.throttled.DescribeTargetHealth ?? 0,
    'every throttle the server answered was counted once: the SDK did not retry',
  )
  t.equal(calls.ok + calls.throttled + calls.error, total, 'every call counted')
  t.equal(calls.error, 0)
  t.ok(maxConsecutive >= 2, `backoff grew over ${maxConsecutive} consecutive throttled ticks`)
  t.ok(maxNextPoll > 0.05 * 1.2 * 2, `a backed-off delay (${maxNextPoll} s) exceeded the jittered interval`)
  t.ok(maxNextPoll <= 0.8 * 1.2 + 0.01, 'capped at maxBackoff (+ jitter)')
  t.ok(
    total < elapsed / 0.05 / 2,
    `${total} calls in ${elapsed.toFixed(2)} s: well under the ${(elapsed / 0.05).toFixed(0)} an unbacked poller would make`,
  )
  t.ok(
    warnings.some((w) => w.consecutiveThrottledTicks !== undefined),
    'throttling logged',
  )
  t.equal(groups(observer)[0]!.lastError === null || groups(observer)[0]!.lastError!.code === 'Throttling', true)

  // Still gets there: once a token is available the draining answer comes through.
  emu.setTargetHealth(arn, POD.id, POD.port, 'draining')
  await whenSatisfied(observer)
  t.equal(groups(observer)[0]!.state, 'draining')
})

t.test('transient errors are logged as warnings, counted and retried on the next tick', async (t) => {
  const emu = await emulator(t)
  const arn = emu.createTargetGroup({ name: 'web', port: POD.port })
  emu.setTargetHealth(arn, POD.id, POD.port, 'healthy')
  emu.failTargetGroup(arn, { code: 'InternalFailure', status: 500 })
  const { observer, calls, warnings, errors, start } = observe(t, { targetGroupArns: [arn], endpoint: emu.url })
  start()
  await until(() => calls.error >= 3, 5_000, 'three errors')
  t.notOk(observer.satisfied, 'a group that cannot be read now is not deregistered')
  const g = groups(observer)[0]!
  t.equal(g.lastError?.code, 'InternalFailure')
  t.equal(g.cannotTell, null, 'a transient error does not give up on the group')
  t.ok(warnings.some((w) => w.code === 'InternalFailure'))
  t.same(errors, [])
  t.equal(observer.view().consecutiveThrottledTicks, 0, 'errors are not throttles: no backoff')
  emu.failTargetGroup(arn, undefined)
  emu.setTargetHealth(arn, POD.id, POD.port, 'draining')
  await whenSatisfied(observer)
  t.equal(groups(observer)[0]!.deregistered, true)
})

t.test(
  'a target unused (Target.NotRegistered) on the first poll, never seen registered: a configuration error, not deregistration',
  async (t) => {
    const emu = await emulator(t)
    const arn = emu.createTargetGroup({ name: 'web', port: POD.port })
    emu.setTargetHealth(arn, POD.id, 9999, 'healthy') // the pod is registered on another port: --target-port is wrong
    const { observer, calls, errors, lagClock, start } = observe(t, { targetGroupArns: [arn], endpoint: emu.url })
    const startedAt = start()
    await whenSatisfied(observer) // the group stops blocking…
    const g = groups(observer)[0]!
    t.same(
      [g.state, g.reason, g.deregistered, g.everRegistered],
      ['unused', 'Target.NotRegistered', false, false],
      '…but is not counted as deregistered',
    )
    t.match(g.cannotTell, /never seen registered.*--target-id or --target-port/)
    t.equal(errors.length, 1, 'logged once, as an error')
    t.match(errors[0]!.msg, /never seen registered/)
    t.same([errors[0]!.obj.targetId, errors[0]!.obj.targetPort], [POD.id, POD.port])
    // The lag clock falls back to termination start.
    t.equal(lagClock.deregisteredAt, startedAt)
    t.equal((lagClock.view() as { deregistration: string }).deregistration, 'termination start (elbv2 could not tell)')
    t.same(observer.summary(), { deregistrationSeenAfterSeconds: null, groupsThatCannotTell: 1 })
    const callsThen = calls.ok
    await sleep(250)
    t.equal(calls.ok, callsThen, 'a group that cannot tell is not polled again')
  },
)

t.test('AccessDenied: logged once as an error naming the permission; falls back to termination start', async (t) => {
  const emu = await emulator(t)
  const arn = emu.createTargetGroup({ name: 'web', port: POD.port })
  emu.setTargetHealth(arn, POD.id, POD.port, 'healthy')
  emu.failTargetGroup(arn, {
    code: 'AccessDenied',
    message: 'User: arn:aws:sts::123456789012:assumed-role/pod/x is not authorized to perform: elasticloadbalancing:DescribeTargetHealth',
    status: 403,
  })
  const { observer, calls, errors, warnings, lagClock, start } = observe(t, { targetGroupArns: [arn], endpoint: emu.url })
  const startedAt = start()
  await whenSatisfied(observer)
  await sleep(250)
  t.same(calls, { ok: 0, throttled: 0, error: 1 }, 'one call: no retry can fix a permission')
  t.equal(errors.length, 1, 'logged once')
  t.match(errors[0]!.msg, /elasticloadbalancing:DescribeTargetHealth/)
  t.equal(errors[0]!.obj.code, 'AccessDenied')
  t.same(warnings, [])
  t.match(groups(observer)[0]!.cannotTell, /^AccessDenied: .*DescribeTargetHealth/)
  t.equal(groups(observer)[0]!.deregistered, false)
  t.equal(lagClock.deregisteredAt, startedAt, 'the lag clock falls back to termination start, not to --max-wait')
  t.equal((lagClock.view() as { deregistration: string }).deregistration, 'termination start (elbv2 could not tell)')
})

t.test('a missing target group: logged once as an error; the other group still tells when', async (t) => {
  const emu = await emulator(t)
  const good = emu.createTargetGroup({ name: 'web', port: POD.port })
  emu.setTargetHealth(good, POD.id, POD.port, 'draining')
  const missing = good.replace(/\/[0-9a-f]+$/, '/0000000000000000')
  const { observer, calls, errors, lagClock, start } = observe(t, { targetGroupArns: [good, missing], endpoint: emu.url })
  const startedAt = start()
  await whenSatisfied(observer)
  await sleep(250)
  t.equal(calls.error, 1, 'not retried')
  t.equal(groups(observer)[1]!.lastError?.code, 'TargetGroupNotFoundException', 'the SDK names the modelled exception')
  t.match(groups(observer)[1]!.cannotTell, /no such target group/)
  t.equal(errors.length, 1)
  t.equal(groups(observer)[0]!.deregistered, true)
  t.equal((lagClock.view() as { deregistration: string }).deregistration, 'elbv2', 'the group that could tell says when')
  t.ok(lagClock.deregisteredAt! > startedAt)
})

t.test('checkAtStartup: registered, not registered, failed — in view().startupCheck', async (t) => {
  const emu = await emulator(t)
  const arn = emu.createTargetGroup({ name: 'web', port: POD.port })
  emu.setTargetHealth(arn, POD.id, POD.port, 'healthy')
  const startup = (o: Elbv2Observer) => o.view().startupCheck as { state: string; attempts: number; secondsAgo: number | null }

  const ok = observe(t, { targetGroupArns: [arn], endpoint: emu.url })
  t.same(startup(ok.observer), { state: 'not run', attempts: 0, secondsAgo: null })
  ok.observer.checkAtStartup(20)
  t.equal(startup(ok.observer).state, 'checking')
  await until(() => startup(ok.observer).state !== 'checking', 5_000, 'the check')
  t.same([startup(ok.observer).state, startup(ok.observer).attempts], ['registered', 1])
  t.equal(ok.calls.ok, 1, 'one call per group')
  t.notOk(ok.observer.satisfied, 'a start-up check is no termination')

  const other = emu.createTargetGroup({ name: 'other', port: POD.port })
  const absent = observe(t, { targetGroupArns: [other], endpoint: emu.url })
  absent.observer.checkAtStartup(20)
  await until(() => startup(absent.observer).state !== 'checking', 5_000, 'the check')
  t.same(
    [startup(absent.observer).state, startup(absent.observer).attempts],
    ['not registered', 1],
    'checked again later (the controller registers pods a little after they start)',
  )
  t.ok(absent.warnings.length === 1 && absent.errors.length === 0, 'a warning until the last attempt')
  t.equal(groups(absent.observer)[0]!.cannotTell, null, 'not registered yet is no failure')

  const denied = emu.createTargetGroup({ name: 'denied', port: POD.port })
  emu.setTargetHealth(denied, POD.id, POD.port, 'healthy')
  emu.failTargetGroup(denied, { code: 'AccessDenied', status: 403 })
  const refused = observe(t, { targetGroupArns: [denied], endpoint: emu.url })
  refused.observer.checkAtStartup(20)
  await until(() => startup(refused.observer).state !== 'checking', 5_000, 'the check')
  t.equal(startup(refused.observer).state, 'failed')
  t.equal(refused.errors.length, 1)
  t.match(refused.errors[0]!.msg, /elasticloadbalancing:DescribeTargetHealth/)
  // Granted before termination: start() tries afresh.
  emu.failTargetGroup(denied, undefined)
  emu.setTargetHealth(denied, POD.id, POD.port, 'draining')
  refused.start()
  await whenSatisfied(refused.observer)
  t.equal(groups(refused.observer)[0]!.deregistered, true)
  t.equal((refused.lagClock.view() as { deregistration: string }).deregistration, 'elbv2')
})

t.test('seen registered at start-up, gone by the first poll after termination: deregistered, not a configuration error', async (t) => {
  const emu = await emulator(t)
  const arn = emu.createTargetGroup({ name: 'web', port: POD.port })
  emu.setTargetHealth(arn, POD.id, POD.port, 'healthy')
  const { observer, errors, lagClock, start } = observe(t, { targetGroupArns: [arn], endpoint: emu.url })
  observer.checkAtStartup(20)
  await until(() => (observer.view().startupCheck as { state: string }).state === 'registered', 5_000, 'the check')
  emu.setTargetHealth(arn, POD.id, POD.port, 'unused', 'Target.NotRegistered')
  start()
  await whenSatisfied(observer)
  t.equal(groups(observer)[0]!.deregistered, true)
  t.same(errors, [])
  t.equal((lagClock.view() as { deregistration: string }).deregistration, 'elbv2')
})

t.test('a hung endpoint: calls time out; stop() aborts the call in flight', async (t) => {
  // Connections are told apart by order of arrival, not by how many are open: a socket of a
  // timed-out call may still be closing when the next call connects.
  const arrived: net.Socket[] = []
  const closed = new Set<net.Socket>()
  // Accepts and reads, never answers.
  const server = net.createServer((s) => {
    arrived.push(s)
    s.resume()
    s.on('close', () => closed.add(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of arrived) s.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const timing = observe(t, {
    targetGroupArns: ['arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1'],
    endpoint,
    requestTimeoutMs: 200,
  })
  timing.start()
  await until(() => timing.calls.error >= 2, 5_000, 'two timed-out calls')
  t.notOk(timing.observer.satisfied)
  t.equal(groups(timing.observer)[0]!.lastError?.code, 'RequestTimeout')
  timing.observer.stop()
  // Every call of the stopped observer ends: its connections close (a timed-out or aborted
  // call does not keep its socket), and no new one arrives.
  await until(() => arrived.every((s) => closed.has(s)), 5_000, "the timed-out calls' connections to close")
  const arrivedBefore = arrived.length

  const hung = observe(t, {
    targetGroupArns: ['arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/2'],
    endpoint,
    requestTimeoutMs: 60_000,
  })
  hung.observer.start(performance.now())
  await until(() => arrived.length > arrivedBefore, 5_000, 'the request to arrive')
  const inFlight = arrived[arrivedBefore]!
  hung.observer.stop()
  hung.observer.stop()
  await until(() => closed.has(inFlight), 5_000, 'the aborted connection to close')
  t.same(hung.calls, { ok: 0, throttled: 0, error: 0 }, 'a call aborted by stop() is not counted as an error')
})
