// The healthcheck observer: learns each LB source's probe interval, satisfied once every source
// has been silent for silenceMultiple × that interval. Real timers, small scale.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { TrafficObservations } from '../../../src/lifecycle/observations.js'
import { HealthcheckObserver, type HealthcheckObserverOptions } from '../../../src/lifecycle/observers/healthcheck.js'
import type { DeregistrationObserver } from '../../../src/lifecycle/observers/observer.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

function setup(t: Teardown, opts: Omit<HealthcheckObserverOptions, 'observations'> = {}) {
  const observations = new TrafficObservations()
  const observer = new HealthcheckObserver({ observations, minIntervalMs: 10, ...opts })
  t.teardown(() => observer.stop())
  let satisfiedAt: number | undefined
  void whenSatisfied(observer).then((at) => {
    satisfiedAt = at
  })
  return { observations, observer, satisfiedAt: () => satisfiedAt }
}

/** Resolves with the time `o` is (or next becomes) satisfied. */
function whenSatisfied(o: DeregistrationObserver): Promise<number> {
  return new Promise((resolve) => {
    if (o.satisfied) resolve(performance.now())
    else
      o.onChange(() => {
        if (o.satisfied) resolve(performance.now())
      })
  })
}

/** A health checker: probes `source` every `everyMs` until stopped; records its last probe time. */
function checker(observations: TrafficObservations, source: string, kind: 'empty' | 'local', everyMs: number) {
  let last = 0
  const probe = () => {
    last = performance.now()
    observations.healthCheckSeen(source, kind, last)
  }
  probe()
  const timer = setInterval(probe, everyMs)
  return { stop: () => clearInterval(timer), last: () => last }
}

type SourceView = {
  source: string
  probes: number
  emptyProbes: number
  localProbes: number
  learnedIntervalSeconds: number | null
  intervalSeconds: number
  intervalFrom: string
  silent: boolean
  probesAfterStart?: number
  silenceThresholdSeconds: number
}
const sources = (o: HealthcheckObserver) => o.view().sources as SourceView[]

t.test("learns each source's interval; satisfied once every source went silent for 3 intervals", async (t) => {
  const { observations, observer, satisfiedAt } = setup(t, { defaultIntervalMs: 10000 })
  const a = checker(observations, '10.0.1.10', 'empty', 50)
  const b = checker(observations, '10.0.2.10', 'local', 80)
  t.teardown(() => {
    a.stop()
    b.stop()
  })
  await sleep(600) // ≥ 3 gaps from each
  observer.start(performance.now())
  const v = sources(observer)
  t.same(
    v.map((s) => [s.source, s.intervalFrom]),
    [
      ['10.0.1.10', 'learned'],
      ['10.0.2.10', 'learned'],
    ],
  )
  // Loose bounds: timers on a shared machine run late, never early.
  t.ok(v[0]!.learnedIntervalSeconds! >= 0.045 && v[0]!.learnedIntervalSeconds! < 0.5, `a learned ${v[0]!.learnedIntervalSeconds} s`)
  t.ok(v[1]!.learnedIntervalSeconds! >= 0.075 && v[1]!.learnedIntervalSeconds! < 0.5, `b learned ${v[1]!.learnedIntervalSeconds} s`)
  t.ok(v[0]!.emptyProbes > 0 && v[0]!.localProbes === 0)
  t.ok(v[1]!.localProbes > 0 && v[1]!.emptyProbes === 0)

  await sleep(300)
  t.notOk(observer.satisfied, 'both still probing')
  a.stop()
  const aStoppedAt = performance.now()
  while (!sources(observer)[0]!.silent) await sleep(20) // bounded by tap's timeout
  t.notOk(observer.satisfied, 'a went silent, b still probing: not satisfied')
  t.notOk(sources(observer)[1]!.silent)
  t.ok((sources(observer)[1]!.probesAfterStart ?? 0) > 0, 'the view reports probes seen after termination began')
  b.stop()
  await whenSatisfied(observer)
  // The view rounds to the millisecond: allow that much.
  const bThreshold = sources(observer)[1]!.silenceThresholdSeconds * 1000 - 0.5
  t.ok(
    satisfiedAt()! - b.last() >= bThreshold,
    `satisfied ${(satisfiedAt()! - b.last()).toFixed(0)} ms after b's last probe (threshold ${bThreshold.toFixed(0)} ms)`,
  )
  t.ok(satisfiedAt()! > aStoppedAt)
  t.equal(observer.view().satisfied, true)
})

t.test('a source with too few probes uses the default interval', async (t) => {
  const { observations, observer, satisfiedAt } = setup(t, { defaultIntervalMs: 200, silenceMultiple: 2 })
  const first = performance.now()
  observations.healthCheckSeen('10.0.1.10', 'empty', first)
  observer.start(performance.now())
  const v = sources(observer)[0]!
  t.equal(v.intervalFrom, 'default')
  t.equal(v.learnedIntervalSeconds, null)
  t.equal(v.intervalSeconds, 0.2)
  t.equal(v.silenceThresholdSeconds, 0.4)
  await whenSatisfied(observer)
  t.ok(satisfiedAt()! - first >= 400, `satisfied ${(satisfiedAt()! - first).toFixed(0)} ms after the only probe`)
})

t.test('learned intervals are clamped to the floor and ceiling', async (t) => {
  const observations = new TrafficObservations()
  const observer = new HealthcheckObserver({ observations, minIntervalMs: 5000, maxIntervalMs: 300000 })
  t.teardown(() => observer.stop())
  const now = performance.now()
  for (let i = 0; i < 5; i++) observations.healthCheckSeen('fast', 'empty', now - 10_000 + i * 100) // 0.1 s apart
  for (let i = 0; i < 5; i++) observations.healthCheckSeen('slow', 'empty', now - 5_000_000 + i * 600_000) // 600 s apart
  const v = sources(observer)
  t.equal(v[0]!.learnedIntervalSeconds, 0.1)
  t.equal(v[0]!.intervalSeconds, 5, 'floor')
  t.equal(v[1]!.learnedIntervalSeconds, 600)
  t.equal(v[1]!.intervalSeconds, 300, 'ceiling')
})

t.test('no probe ever seen: satisfied after silenceMultiple × default interval from start', async (t) => {
  const { observer, satisfiedAt } = setup(t, { defaultIntervalMs: 100, silenceMultiple: 3 })
  const startedAt = performance.now()
  observer.start(startedAt)
  t.same(sources(observer), [])
  await whenSatisfied(observer)
  t.ok(satisfiedAt()! - startedAt >= 300)
})

t.test('sources already silent when termination began count as silent at once', async (t) => {
  const { observations, observer } = setup(t, { defaultIntervalMs: 1000 })
  const now = performance.now()
  for (let i = 0; i < 5; i++) observations.healthCheckSeen('10.0.1.10', 'empty', now - 60_000 + i * 1_000) // stopped 56 s ago, 1 s rhythm
  observer.start(now)
  await whenSatisfied(observer)
  t.ok(observer.satisfied)
})

t.test('a probe after silence revokes it (the verdict is live), and silence must be earned again', { timeout: 10_000 }, async (t) => {
  const { observations, observer } = setup(t, { defaultIntervalMs: 100, silenceMultiple: 2 })
  observations.healthCheckSeen('10.0.1.10', 'empty', performance.now())
  observer.start(performance.now())
  await whenSatisfied(observer)
  const probeAt = performance.now()
  observations.healthCheckSeen('10.0.1.10', 'empty', probeAt)
  t.notOk(observer.satisfied, 'read live: not silent any more')
  // Silent again 200 ms later, between two of the observer's looks (every second while silent):
  // the decision may have read "not silent" meanwhile, so the return must be announced.
  const again = await whenSatisfied(observer)
  t.ok(again - probeAt >= 200 - 0.5, `silent again, announced ${(again - probeAt).toFixed(0)} ms after the probe`)
})

t.test('stop() is idempotent and announces nothing after', async (t) => {
  const { observer } = setup(t, { defaultIntervalMs: 50 })
  let changes = 0
  observer.onChange(() => {
    changes++
  })
  observer.start(performance.now())
  observer.stop()
  observer.stop()
  await sleep(300)
  t.equal(changes, 0, 'no timer left behind')
})

t.test('bad options are refused with a code', async (t) => {
  const observations = new TrafficObservations()
  t.throws(() => new HealthcheckObserver({ observations, silenceMultiple: 0 }), { code: 'ERR_HEALTHCHECK_OPTION' })
  t.throws(() => new HealthcheckObserver({ observations, minIntervalMs: 10000, maxIntervalMs: 5000 }), { code: 'ERR_HEALTHCHECK_OPTION' })
  t.throws(() => new HealthcheckObserver({ observations, defaultIntervalMs: -1000 }), { code: 'ERR_HEALTHCHECK_OPTION' })
  t.throws(() => new HealthcheckObserver({ observations, minGaps: 0 }), { code: 'ERR_HEALTHCHECK_OPTION' })
})
