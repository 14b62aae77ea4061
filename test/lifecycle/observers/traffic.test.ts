// The traffic observer with real timers at small scale (quiet windows of a few hundred ms).
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { TrafficObservations } from '../../../src/lifecycle/observations.js'
import { TrafficObserver } from '../../../src/lifecycle/observers/traffic.js'

interface Teardown { teardown (fn: () => unknown): void }

function setup (t: Teardown, opts: { quietPeriod?: number | 'auto', quietPeriodMin?: number, quietPeriodMax?: number, since?: number } = {}) {
  const observations = new TrafficObservations(opts.since !== undefined ? { since: opts.since } : {})
  const { since: _since, ...observerOpts } = opts
  const observer = new TrafficObserver({ observations, ...observerOpts })
  t.teardown(() => observer.stop())
  let satisfiedAt: number | undefined
  void observer.whenSatisfied().then(() => { satisfiedAt = performance.now() })
  return { observations, observer, satisfiedAt: () => satisfiedAt }
}

/**
 * Arrivals every `everyMs` from two LB nodes, for `forMs`. Returns the last arrival time and the
 * longest gap that really happened (a loaded machine may sleep longer than asked).
 */
async function steadyArrivals (observations: TrafficObservations, everyMs: number, forMs: number, check: () => void): Promise<{ last: number, maxGapMs: number }> {
  const until = performance.now() + forMs
  let last = performance.now()
  let maxGapMs = 0
  let i = 0
  while (performance.now() < until) {
    const now = performance.now()
    maxGapMs = Math.max(maxGapMs, now - last)
    last = now
    check()
    observations.clientArrived(i++ % 2 === 0 ? '10.0.1.10' : '10.0.2.10', last)
    await sleep(everyMs)
  }
  return { last, maxGapMs }
}

t.test('not satisfied while arrivals keep coming; satisfied a quiet window after the last one', async (t) => {
  const { observations, observer, satisfiedAt } = setup(t, { quietPeriod: 0.3 })
  const startedAt = performance.now()
  observer.start(startedAt)
  let satisfiedEarly = false
  // Arrivals every 50 ms (gaps well under 300 ms even on a slow machine) for 800 ms.
  const { last, maxGapMs } = await steadyArrivals(observations, 50, 800, () => { satisfiedEarly ||= observer.satisfied })
  if (maxGapMs < 300) t.notOk(satisfiedEarly, `never satisfied while connections kept arriving (longest gap ${maxGapMs.toFixed(1)} ms)`)
  else t.comment(`the machine stalled ${maxGapMs.toFixed(1)} ms between arrivals: a real quiet window, satisfaction allowed`)
  await observer.whenSatisfied()
  t.ok(satisfiedAt()! - last >= 300, `satisfied ${(satisfiedAt()! - last).toFixed(1)} ms after the last arrival, not before 300 ms`)
  const view = observer.view()
  t.equal(view.satisfied, true)
  t.same(view.quietWindow, { seconds: 0.3, derivation: 'fixed' })
  t.ok((view.arrivalsSinceStart as number) >= 2)
  t.ok((view.lastArrivalAfterStartSeconds as number) > 0)
  t.ok((view.satisfiedAfterSeconds as number) >= 0.3)
  const sources = view.sources as Array<{ source: string, connections: number }>
  t.same(sources.map((s) => s.source).sort(), ['10.0.1.10', '10.0.2.10'])
  t.ok(sources.every((s) => s.connections >= 1))
})

t.test('no arrival after termination began: satisfied one window after start, never before', async (t) => {
  const { observations, observer, satisfiedAt } = setup(t, { quietPeriod: 0.3 })
  observations.clientArrived('10.0.1.10', performance.now() - 5_000) // long before
  const startedAt = performance.now()
  observer.start(startedAt)
  await sleep(150)
  const v = observer.view()
  if (performance.now() - startedAt < 300) {
    t.notOk(observer.satisfied, 'half a window in: not yet')
    t.ok((v.remainingSeconds as number) > 0 && (v.remainingSeconds as number) <= 0.3, `remaining ${v.remainingSeconds as number} s`)
  }
  t.equal(v.lastArrivalAfterStartSeconds, null)
  await observer.whenSatisfied()
  t.ok(satisfiedAt()! - startedAt >= 300, `satisfied ${(satisfiedAt()! - startedAt).toFixed(1)} ms after start`)
  t.equal(observer.view().remainingSeconds, 0)
})

t.test('auto: the window comes from the rate seen before termination (clamped to the floor when busy)', async (t) => {
  const startedAt = Math.floor(performance.now()) // whole ms: the synthetic history below adds up exactly
  const { observations, observer, satisfiedAt } = setup(t, { quietPeriod: 'auto', quietPeriodMin: 0.25, quietPeriodMax: 5, since: startedAt - 60_000 })
  // 6000 arrivals in the minute before termination (100/s): unclamped W ≈ 0.14 s → floor 0.25 s.
  for (let i = 0; i < 6000; i++) observations.clientArrived('10.0.1.10', startedAt - 60_000 + (i + 1) * 10)
  const preview = observer.view().quietWindow as Record<string, unknown>
  t.equal(preview.preview, true, 'before start the view previews the window')
  observer.start(startedAt)
  const w = observer.window!
  t.equal(w.derivation, 'auto')
  t.equal(w.clamped, 'min')
  t.equal(w.seconds, 0.25)
  t.equal(w.sampleSize, 6000)
  t.equal(w.ratePerSecond, 100)
  await observer.whenSatisfied()
  t.ok(satisfiedAt()! - startedAt >= 250)
})

t.test('auto: a moderate rate gives a window between the bounds', async (t) => {
  const startedAt = Math.floor(performance.now()) // whole ms: the synthetic history below adds up exactly
  const { observations, observer } = setup(t, { quietPeriod: 'auto', quietPeriodMin: 0.1, quietPeriodMax: 60, since: startedAt - 60_000 })
  // 300 arrivals in the minute before termination (5/s): W = 60·(10^(6/300) − 1) ≈ 2.8 s.
  for (let i = 0; i < 300; i++) observations.clientArrived('10.0.1.10', startedAt - 60_000 + (i + 1) * 200)
  observer.start(startedAt)
  const w = observer.window!
  t.equal(w.derivation, 'auto')
  t.equal(w.clamped, undefined)
  t.ok(w.seconds > 2.7 && w.seconds < 2.9, `window ${w.seconds} s`)
  t.ok(w.seconds > Math.log(1e6) / 5, 'longer than the plug-in ln(10^6)/λ')
  t.equal(w.falseStopProbability, 1e-6)

  // Same history, a looser target probability: a shorter window.
  const loose = new TrafficObserver({ observations, quietPeriod: 'auto', quietPeriodMin: 0.1, falseStopProbability: 1e-3 })
  t.teardown(() => loose.stop())
  t.ok(loose.windowAt(startedAt).seconds < w.seconds * 0.6, 'p = 1e-3 gives about half the window of 1e-6')
  t.throws(() => new TrafficObserver({ observations, falseStopProbability: 0 }), { code: 'ERR_QUIET_PERIOD_PROBABILITY' })
})

t.test('auto without history falls back to the floor', async (t) => {
  const { observer, satisfiedAt } = setup(t, { quietPeriod: 'auto', quietPeriodMin: 0.2, quietPeriodMax: 10 })
  const startedAt = performance.now()
  observer.start(startedAt)
  t.equal(observer.window!.derivation, 'auto-floor')
  t.equal(observer.window!.seconds, 0.2)
  await observer.whenSatisfied()
  t.ok(satisfiedAt()! - startedAt >= 200)
})

t.test('stop() before the window ends: never satisfied, no timer left behind', async (t) => {
  const { observer } = setup(t, { quietPeriod: 0.2 })
  observer.start(performance.now())
  observer.stop()
  observer.stop() // idempotent
  await sleep(400)
  t.notOk(observer.satisfied)
  observer.start(performance.now()) // ignored after stop
  await sleep(300)
  t.notOk(observer.satisfied)
})

t.test('bad settings are refused with codes', async (t) => {
  const observations = new TrafficObservations()
  t.throws(() => new TrafficObserver({ observations, quietPeriod: -1 }), { code: 'ERR_QUIET_PERIOD' })
  t.throws(() => new TrafficObserver({ observations, quietPeriod: 'auto', quietPeriodMin: 5, quietPeriodMax: 1 }), { code: 'ERR_QUIET_PERIOD_BOUNDS' })
})
