// createObservers: from names and a plain options object to start-able observers.
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { TrafficObservations } from '../../../src/lifecycle/observations.js'
import { LagClock } from '../../../src/lifecycle/lag-clock.js'
import { createObservers, Elbv2Observer, HealthcheckObserver, TrafficObserver, type DeregistrationObserver } from '../../../src/lifecycle/observers/index.js'
import { startElbv2Emulator } from '../../../bench/rollout/elbv2/index.js'

/** Resolves when `o` is (or next becomes) satisfied. */
function whenSatisfied (o: DeregistrationObserver): Promise<void> {
  return new Promise((resolve) => {
    if (o.satisfied) resolve()
    else o.onChange(() => { if (o.satisfied) resolve() })
  })
}

t.test('builds the named observers in order, once each', async (t) => {
  const observations = new TrafficObservations()
  const lagClock = new LagClock(60_000, false)
  const observers = createObservers(['traffic', 'healthcheck', 'traffic'], { observations, lagClock, traffic: { quietPeriodMs: 5_000 }, healthcheck: { silenceMultiple: 4 } })
  t.same(observers.map((o) => o.name), ['traffic', 'healthcheck'])
  t.ok(observers[0] instanceof TrafficObserver)
  t.ok(observers[1] instanceof HealthcheckObserver)
  t.equal(observers[0]!.view().quietPeriod, 5, 'traffic options applied')
  t.equal(observers[1]!.view().silenceMultiple, 4, 'healthcheck options applied')
  t.equal((observers[0]!.view().lagBound as { lagMaxSeconds: number }).lagMaxSeconds, 60, 'the lag clock given is the one read')
})

t.test('unknown names and a missing elbv2 configuration are refused with codes', async (t) => {
  const observations = new TrafficObservations()
  const lagClock = new LagClock(60_000, false)
  t.throws(() => createObservers(['traffic', 'dns'], { observations, lagClock }), { code: 'ERR_OBSERVER_UNKNOWN', message: /dns/ })
  t.throws(() => createObservers(['elbv2'], { observations, lagClock }), { code: 'ERR_OBSERVER_OPTIONS_MISSING' })
  t.throws(() => createObservers(['elbv2'], { observations, lagClock, elbv2: { targetGroupArns: [], targetId: '10.0.0.1', targetPort: 80 } }), { code: 'ERR_ELBV2_OPTION' })
  t.throws(() => createObservers(['traffic'], { observations, lagClock, traffic: { quietPeriodMinMs: 0 } }), { code: 'ERR_QUIET_PERIOD_BOUNDS' })
})

t.test('elbv2 from the factory: hook, logger and lag clock wired; traffic waits for the lag from the deregistration', async (t) => {
  const emu = await startElbv2Emulator({ consistencyLagMs: 0 })
  t.teardown(() => emu.close())
  const arn = emu.createTargetGroup({ name: 'web', port: 8080 })
  emu.setTargetHealth(arn, '10.0.1.23', 8080, 'draining')
  const outcomes: string[] = []
  const logged: string[] = []
  const logger = { info (_o: object, msg?: string) { logged.push(msg ?? '') }, warn () {}, error () {}, debug () {} }
  const observations = new TrafficObservations()
  const lagClock = new LagClock(150, true)
  const observers = createObservers(['traffic', 'elbv2'], {
    observations,
    lagClock,
    logger,
    traffic: { quietPeriodMs: 100 },
    elbv2: { targetGroupArns: [arn], targetId: '10.0.1.23', targetPort: 8080, region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, pollIntervalSeconds: 0.05 },
    elbv2Hook: { onCall (o) { outcomes.push(o) } }
  })
  t.teardown(() => { for (const o of observers) o.stop() })
  t.ok(observers[1] instanceof Elbv2Observer)
  const startedAt = performance.now()
  lagClock.start(startedAt)
  for (const o of observers) o.start(startedAt)
  await whenSatisfied(observers[1]!)
  const deregisteredAt = lagClock.deregisteredAt!
  t.ok(deregisteredAt >= startedAt, 'elbv2 told the lag clock')
  t.equal((lagClock.view() as { deregistration: string }).deregistration, 'elbv2')
  t.notOk(observers[0]!.satisfied, 'no traffic history: traffic waits for the lag after the deregistration')
  await whenSatisfied(observers[0]!)
  t.ok(performance.now() - deregisteredAt >= 150)
  t.ok(observers.every((o) => o.satisfied))
  t.same(outcomes, ['ok'], 'one call: draining at once')
  t.ok(logged.some((m) => m.startsWith('traffic observer')) && logged.some((m) => m.startsWith('elbv2 observer')), 'both log through the injected logger')
  t.doesNotThrow(() => JSON.stringify(observers.map((o) => o.view())), 'views are JSON-safe')
})
