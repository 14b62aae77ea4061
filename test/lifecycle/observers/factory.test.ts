// createObservers: from the checked configuration (--deregistration and the observers' flags) to
// start-able observers.
import t from 'tap'
import { parseConfig } from '../../../src/config.js'
import { TrafficObservations } from '../../../src/lifecycle/observations.js'
import { LagClock } from '../../../src/lifecycle/lag-clock.js'
import { createObservers, Elbv2Observer, HealthcheckObserver, TrafficObserver } from '../../../src/lifecycle/observers/index.js'
import { startElbv2Emulator } from '../../../bench/rollout/elbv2/index.js'

function config(args: string[]) {
  const parsed = parseConfig(args, {})
  if (parsed.kind !== 'config') throw new Error(parsed.kind)
  return parsed.config
}

t.test('builds the named observers in order, once each, with their flags applied', async (t) => {
  const observations = new TrafficObservations()
  const lagClock = new LagClock(60_000, false)
  const observers = createObservers(
    config(['--deregistration', 'traffic,healthcheck,traffic', '--quiet-period', '5', '--healthcheck-silence-multiple', '4']),
    { observations, lagClock },
  )
  t.same(
    observers.map((o) => o.name),
    ['traffic', 'healthcheck'],
  )
  t.ok(observers[0] instanceof TrafficObserver)
  t.ok(observers[1] instanceof HealthcheckObserver)
  t.equal(observers[0]!.view().quietPeriod, 5, 'traffic options applied')
  t.equal(observers[1]!.view().silenceMultiple, 4, 'healthcheck options applied')
})

t.test('elbv2 from the factory: hook and logger wired, all observers agree', async (t) => {
  const emu = await startElbv2Emulator({ consistencyLagMs: 0 })
  t.teardown(() => emu.close())
  const arn = emu.createTargetGroup({ name: 'web', port: 8080 })
  emu.setTargetHealth(arn, '10.0.1.23', 8080, 'draining')
  const outcomes: string[] = []
  const logged: string[] = []
  const logger = {
    info(_o: object, msg?: string) {
      logged.push(msg ?? '')
    },
    warn() {},
    error() {},
    debug() {},
  }
  const observations = new TrafficObservations()
  const lagClock = new LagClock(100, true)
  const observers = createObservers(
    config([
      '--deregistration',
      'traffic,elbv2',
      '--quiet-period',
      '0.1',
      '--target-group-arn',
      arn,
      '--target-id',
      '10.0.1.23',
      '--target-port',
      '8080',
      '--aws-region',
      'us-east-1',
      '--elbv2-endpoint',
      emu.url,
      '--elbv2-poll-interval',
      '50ms',
    ]),
    {
      observations,
      lagClock,
      logger,
      elbv2Credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      elbv2Hook: {
        onCall(o) {
          outcomes.push(o)
        },
      },
    },
  )
  t.teardown(() => {
    for (const o of observers) o.stop()
  })
  t.ok(observers[1] instanceof Elbv2Observer)
  const startedAt = performance.now()
  lagClock.start(startedAt)
  for (const o of observers) o.start(startedAt)
  await new Promise<void>((resolve) => {
    const check = () => {
      if (observers.every((o) => o.satisfied)) resolve()
    }
    for (const o of observers) o.onChange(check)
    check()
  })
  t.same(outcomes, ['ok'], 'one call: draining at once')
  t.ok(
    logged.some((m) => m.startsWith('traffic observer')) && logged.some((m) => m.startsWith('elbv2 observer')),
    'both log through the injected logger',
  )
  t.doesNotThrow(() => JSON.stringify(observers.map((o) => o.view())), 'views are JSON-safe')
})
