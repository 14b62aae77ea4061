// createObservers: from names and a plain options object to started-able observers.
import t from 'tap'
import { TrafficObservations } from '../../../src/lifecycle/observations.js'
import { createObservers, Elbv2Observer, HealthcheckObserver, TrafficObserver } from '../../../src/lifecycle/observers/index.js'
import { startElbv2Emulator } from '../../../bench/rollout/elbv2/index.js'

t.test('builds the named observers in order, once each', async (t) => {
  const observations = new TrafficObservations()
  const observers = createObservers(['traffic', 'healthcheck', 'traffic'], { observations, traffic: { quietPeriod: 5 }, healthcheck: { silenceMultiple: 4 } })
  t.same(observers.map((o) => o.name), ['traffic', 'healthcheck'])
  t.ok(observers[0] instanceof TrafficObserver)
  t.ok(observers[1] instanceof HealthcheckObserver)
  t.same((observers[0]!.view().quietWindow as Record<string, unknown>).seconds, 5, 'traffic options applied')
  t.equal(observers[1]!.view().silenceMultiple, 4, 'healthcheck options applied')
})

t.test('unknown names and a missing elbv2 configuration are refused with codes', async (t) => {
  const observations = new TrafficObservations()
  t.throws(() => createObservers(['traffic', 'dns'], { observations }), { code: 'ERR_OBSERVER_UNKNOWN', message: /dns/ })
  t.throws(() => createObservers(['elbv2'], { observations }), { code: 'ERR_OBSERVER_OPTIONS_MISSING' })
  t.throws(() => createObservers(['elbv2'], { observations, elbv2: { targetGroupArns: [], targetId: '10.0.0.1', targetPort: 80 } }), { code: 'ERR_ELBV2_OPTION' })
  t.throws(() => createObservers(['traffic'], { observations, traffic: { quietPeriod: 'auto', quietPeriodMin: 0 } }), { code: 'ERR_QUIET_PERIOD_BOUNDS' })
})

t.test('elbv2 from the factory: hook and logger wired, all observers agree', async (t) => {
  const emu = await startElbv2Emulator({ consistencyLagMs: 0 })
  t.teardown(() => emu.close())
  const arn = emu.createTargetGroup({ name: 'web', port: 8080 })
  emu.setTargetHealth(arn, '10.0.1.23', 8080, 'draining')
  const outcomes: string[] = []
  const logged: string[] = []
  const logger = { info (_o: object, msg?: string) { logged.push(msg ?? '') }, warn () {}, debug () {} }
  const observations = new TrafficObservations()
  const observers = createObservers(['traffic', 'elbv2'], {
    observations,
    logger,
    traffic: { quietPeriod: 0.1 },
    elbv2: { targetGroupArns: [arn], targetId: '10.0.1.23', targetPort: 8080, region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, pollIntervalSeconds: 0.05 },
    elbv2Hook: { onCall (o) { outcomes.push(o) } }
  })
  t.teardown(() => { for (const o of observers) o.stop() })
  t.ok(observers[1] instanceof Elbv2Observer)
  const startedAt = performance.now()
  for (const o of observers) o.start(startedAt)
  await Promise.all(observers.map((o) => o.whenSatisfied()))
  t.ok(observers.every((o) => o.satisfied))
  t.same(outcomes, ['ok'], 'one call: draining at once')
  t.ok(logged.some((m) => m.startsWith('traffic observer')) && logged.some((m) => m.startsWith('elbv2 observer')), 'both log through the injected logger')
  t.doesNotThrow(() => JSON.stringify(observers.map((o) => o.view())), 'views are JSON-safe')
})
