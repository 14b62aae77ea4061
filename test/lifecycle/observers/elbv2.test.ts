// The elbv2 observer: the real @aws-sdk/client-elastic-load-balancing-v2 client over HTTP against
// the rollout lab's ELBv2 emulator.
import t from 'tap'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { startElbv2Emulator, type Elbv2EmulatorOptions } from '../../../bench/rollout/elbv2/index.js'
import { Elbv2Observer, isDeregisteredState, type Elbv2CallOutcome, type Elbv2ObserverOptions } from '../../../src/lifecycle/observers/elbv2.js'

interface Teardown { teardown (fn: () => unknown): void }

const POD = { id: '10.0.1.23', port: 8080 }
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }

async function emulator (t: Teardown, opts: Elbv2EmulatorOptions = {}) {
  const emu = await startElbv2Emulator({ consistencyLagMs: 0, ...opts })
  t.teardown(() => emu.close())
  return emu
}

function observe (t: Teardown, opts: Partial<Elbv2ObserverOptions> & Pick<Elbv2ObserverOptions, 'targetGroupArns' | 'endpoint'>) {
  const calls: Record<Elbv2CallOutcome, number> = { ok: 0, throttled: 0, error: 0 }
  const warnings: Array<Record<string, unknown>> = []
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
    hook: { onCall (outcome) { calls[outcome]++ } },
    logger: { info () {}, debug () {}, warn (obj) { warnings.push(obj as Record<string, unknown>) } },
    ...opts
  })
  t.teardown(() => observer.stop())
  return { observer, calls, warnings }
}

/** Polls `cond` every 10 ms; fails after `ms`. */
async function until (cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(10)
  }
}

type GroupView = { arn: string, state: string | null, reason: string | null, calls: number, throttled: number, errors: number, deregistered: boolean, lastError: { code: string } | null }
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
  const { observer, calls } = observe(t, { targetGroupArns: [arn], endpoint: emu.url })
  await sleep(200)
  t.equal(emu.stats().calls.DescribeTargetHealth ?? 0, 0, 'no DescribeTargetHealth before termination')

  observer.start(performance.now())
  await until(() => calls.ok >= 3, 5_000, 'three answers')
  t.notOk(observer.satisfied, 'healthy is not deregistered')
  t.equal(groups(observer)[0]!.state, 'healthy')

  emu.setTargetHealth(arn, POD.id, POD.port, 'draining')
  await observer.whenSatisfied()
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
})

t.test('draining runs out into unused (Target.NotRegistered): both satisfy, other unused reasons do not', async (t) => {
  // timeScale 0.01: a 30 s deregistration delay lasts 300 ms.
  const emu = await emulator(t, { timeScale: 0.01 })
  const arn = emu.createTargetGroup({ name: 'web', port: POD.port, deregistrationDelaySeconds: 30 })
  emu.setTargetHealth(arn, POD.id, POD.port, 'unused', 'Target.InvalidState')
  const { observer, calls } = observe(t, { targetGroupArns: [arn], endpoint: emu.url })
  observer.start(performance.now())
  await until(() => calls.ok >= 3, 5_000, 'three answers')
  t.notOk(observer.satisfied, 'unused for another reason is not deregistration')
  t.equal(groups(observer)[0]!.reason, 'Target.InvalidState')

  emu.setTargetHealth(arn, POD.id, POD.port, 'healthy')
  emu.setTargetHealth(arn, POD.id, POD.port, 'draining')
  await sleep(400) // the delay expires: the API now says unused / Target.NotRegistered
  const direct = emu.targetGroup(arn).healthAt(POD.id, POD.port)
  t.same({ state: direct.state, reason: direct.reason }, { state: 'unused', reason: 'Target.NotRegistered' }, 'emulator moved on to unused')
  await observer.whenSatisfied()
  t.equal(observer.satisfied, true)
})

t.test('two target groups must both agree', async (t) => {
  const emu = await emulator(t)
  const a = emu.createTargetGroup({ name: 'web-a', port: POD.port })
  const b = emu.createTargetGroup({ name: 'web-b', port: POD.port })
  emu.setTargetHealth(a, POD.id, POD.port, 'healthy')
  emu.setTargetHealth(b, POD.id, POD.port, 'healthy')
  const { observer, calls } = observe(t, { targetGroupArns: [a, b], endpoint: emu.url })
  observer.start(performance.now())
  await until(() => calls.ok >= 2, 5_000, 'first answers')

  emu.setTargetHealth(a, POD.id, POD.port, 'draining')
  await until(() => groups(observer)[0]!.state === 'draining', 5_000, 'group a draining')
  const aCalls = groups(observer)[0]!.calls
  await until(() => groups(observer)[1]!.calls >= 3, 5_000, 'more polls of b')
  t.notOk(observer.satisfied, 'a draining, b healthy: not satisfied')
  t.equal(groups(observer)[1]!.state, 'healthy')
  t.equal(groups(observer)[0]!.calls, aCalls, 'a deregistered group is not polled again')

  emu.setTargetHealth(b, POD.id, POD.port, 'unused', 'Target.NotRegistered')
  await observer.whenSatisfied()
  t.same(groups(observer).map((g) => [g.state, g.reason]), [['draining', 'Target.DeregistrationInProgress'], ['unused', 'Target.NotRegistered']])
})

t.test('throttling: backs off exponentially, SDK retries off, every call and throttle counted', async (t) => {
  // A tiny bucket: 2 tokens, one more every 2 s. Polling every 50 ms would need 20/s.
  const emu = await emulator(t, { describeBurst: 2, describeRefillPerSecond: 0.5 })
  const arn = emu.createTargetGroup({ name: 'web', port: POD.port })
  emu.setTargetHealth(arn, POD.id, POD.port, 'healthy')
  const { observer, calls, warnings } = observe(t, { targetGroupArns: [arn], endpoint: emu.url, maxBackoffMs: 800 })
  let maxConsecutive = 0
  let maxNextPoll = 0
  const startedAt = performance.now()
  observer.start(startedAt)
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
  t.equal(calls.throttled, stats.throttled.DescribeTargetHealth ?? 0, 'every throttle the server answered was counted once: the SDK did not retry')
  t.equal(calls.ok + calls.throttled + calls.error, total, 'every call counted')
  t.equal(calls.error, 0)
  t.ok(maxConsecutive >= 2, `backoff grew over ${maxConsecutive} consecutive throttled ticks`)
  t.ok(maxNextPoll > 0.05 * 1.2 * 2, `a backed-off delay (${maxNextPoll} s) exceeded the jittered interval`)
  t.ok(maxNextPoll <= 0.8 * 1.2 + 0.01, 'capped at maxBackoff (+ jitter)')
  t.ok(total < elapsed / 0.05 / 2, `${total} calls in ${elapsed.toFixed(2)} s: well under the ${(elapsed / 0.05).toFixed(0)} an unbacked poller would make`)
  t.ok(warnings.some((w) => w.consecutiveThrottledTicks !== undefined), 'throttling logged')
  t.equal(groups(observer)[0]!.lastError === null || groups(observer)[0]!.lastError!.code === 'Throttling', true)

  // Still gets there: once a token is available the draining answer comes through.
  emu.setTargetHealth(arn, POD.id, POD.port, 'draining')
  await observer.whenSatisfied()
  t.equal(groups(observer)[0]!.state, 'draining')
})

t.test('other errors are logged, counted and retried on the next tick', async (t) => {
  const emu = await emulator(t)
  const good = emu.createTargetGroup({ name: 'web', port: POD.port })
  emu.setTargetHealth(good, POD.id, POD.port, 'draining')
  const missing = good.replace(/\/[0-9a-f]+$/, '/0000000000000000')
  const { observer, calls, warnings } = observe(t, { targetGroupArns: [good, missing], endpoint: emu.url })
  observer.start(performance.now())
  await until(() => calls.error >= 3, 5_000, 'three errors')
  t.notOk(observer.satisfied, 'a group that cannot be read is not deregistered')
  const g = groups(observer)[1]!
  t.equal(g.lastError?.code, 'TargetGroupNotFoundException', 'the SDK names the modelled exception')
  t.ok(g.errors >= 3)
  t.equal(groups(observer)[0]!.deregistered, true)
  t.ok(warnings.some((w) => w.code === 'TargetGroupNotFoundException'))
  t.equal(observer.view().consecutiveThrottledTicks, 0, 'errors are not throttles: no backoff')
})

t.test('a hung endpoint: calls time out; stop() aborts the call in flight', async (t) => {
  // Connections are told apart by order of arrival, not by how many are open: a socket of a
  // timed-out call may still be closing when the next call connects.
  const arrived: net.Socket[] = []
  const closed = new Set<net.Socket>()
  // Accepts and reads, never answers.
  const server = net.createServer((s) => { arrived.push(s); s.resume(); s.on('close', () => closed.add(s)) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of arrived) s.destroy(); return new Promise<void>((resolve) => server.close(() => resolve())) })
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const timing = observe(t, { targetGroupArns: ['arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1'], endpoint, requestTimeoutMs: 200 })
  timing.observer.start(performance.now())
  await until(() => timing.calls.error >= 2, 5_000, 'two timed-out calls')
  t.notOk(timing.observer.satisfied)
  t.equal(groups(timing.observer)[0]!.lastError?.code, 'RequestTimeout')
  timing.observer.stop()
  // Every call of the stopped observer ends: its connections close (a timed-out or aborted
  // call does not keep its socket), and no new one arrives.
  await until(() => arrived.every((s) => closed.has(s)), 5_000, 'the timed-out calls\' connections to close')
  const arrivedBefore = arrived.length

  const hung = observe(t, { targetGroupArns: ['arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/2'], endpoint, requestTimeoutMs: 60_000 })
  hung.observer.start(performance.now())
  await until(() => arrived.length > arrivedBefore, 5_000, 'the request to arrive')
  const inFlight = arrived[arrivedBefore]!
  hung.observer.stop()
  hung.observer.stop()
  await until(() => closed.has(inFlight), 5_000, 'the aborted connection to close')
  t.same(hung.calls, { ok: 0, throttled: 0, error: 0 }, 'a call aborted by stop() is not counted as an error')
})
