// The traffic observer with real timers at small scale (windows of a few hundred ms): per-node
// windows, live verdicts revoked by new activity, the lag bound when evidence is missing.
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { TrafficObservations } from '../../../src/lifecycle/observations.js'
import { LagClock } from '../../../src/lifecycle/lag-clock.js'
import { TrafficObserver, MAX_PER_SOURCE, type TrafficObserverOptions } from '../../../src/lifecycle/observers/traffic.js'
import { requiredWindowMs } from '../../../src/lifecycle/quiet-period.js'
import type { DeregistrationObserver } from '../../../src/lifecycle/observers/observer.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

type Opts = Omit<TrafficObserverOptions, 'observations' | 'lagClock'> & { lagMs?: number; waitForElbv2?: boolean; since?: number }

function setup(t: Teardown, opts: Opts = {}) {
  const { lagMs, waitForElbv2, since, ...observerOpts } = opts
  const observations = new TrafficObservations({ since: since ?? performance.now() - 60_000 })
  const lagClock = new LagClock(lagMs ?? 60_000, waitForElbv2 ?? false)
  const observer = new TrafficObserver({ observations, lagClock, ...observerOpts })
  t.teardown(() => observer.stop())
  const start = (at = performance.now()): number => {
    lagClock.start(at)
    observer.start(at)
    return at
  }
  return { observations, lagClock, observer, start }
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

/** Resolves with the time `o` next stops being satisfied. */
function whenRevoked(o: DeregistrationObserver): Promise<number> {
  return new Promise((resolve) =>
    o.onChange(() => {
      if (!o.satisfied) resolve(performance.now())
    }),
  )
}

const NODES = ['10.0.1.10', '10.0.2.10']

/** Arrivals in the history before `at` from each node: `count` each, evenly over the last 60 s. */
function history(observations: TrafficObservations, at: number, count: number, nodes = NODES): void {
  for (let i = 0; i < count; i++) for (const node of nodes) observations.clientArrived(node, at - 60_000 + (i + 1) * (60_000 / (count + 1)))
}

/**
 * Arrivals every `everyMs` alternating between the nodes, for `forMs`. Returns the last arrival
 * time and the longest gap that really happened (a loaded machine may sleep longer than asked).
 */
async function steadyArrivals(
  observations: TrafficObservations,
  everyMs: number,
  forMs: number,
  check: () => void,
): Promise<{ last: number; maxGapMs: number }> {
  const until = performance.now() + forMs
  let last = performance.now()
  let maxGapMs = 0
  let i = 0
  while (performance.now() < until) {
    const now = performance.now()
    maxGapMs = Math.max(maxGapMs, now - last)
    last = now
    check()
    observations.clientArrived(NODES[i++ % 2]!, last)
    await sleep(everyMs)
  }
  return { last, maxGapMs }
}

type SourceView = {
  source: string
  basis: string
  windowSeconds?: number
  requiredSeconds?: number | null
  sampleSize: number
  ratePerSecond?: number
  quiet: boolean
  remainingSeconds: number | null
  why?: string
  falseStopBound?: number
}
/** The view's sources, by name (the observer lists them newest first). */
const sources = (o: TrafficObserver) => (o.view().sources as SourceView[]).sort((x, y) => (x.source < y.source ? -1 : 1))

t.test('not satisfied while arrivals keep coming; satisfied a quiet window after the last one', async (t) => {
  const { observations, observer, start } = setup(t, { quietPeriodMs: 300 })
  const startedAt = performance.now()
  history(observations, startedAt, 5)
  start(startedAt)
  let satisfiedEarly = false
  // Arrivals every 50 ms (gaps well under 300 ms even on a slow machine) for 800 ms.
  const { last, maxGapMs } = await steadyArrivals(observations, 50, 800, () => {
    satisfiedEarly ||= observer.satisfied
  })
  if (maxGapMs < 300) t.notOk(satisfiedEarly, `never satisfied while connections kept arriving (longest gap ${maxGapMs.toFixed(1)} ms)`)
  else t.comment(`the machine stalled ${maxGapMs.toFixed(1)} ms between arrivals: a real quiet window, satisfaction allowed`)
  const satisfiedAt = await whenSatisfied(observer)
  t.ok(satisfiedAt - last >= 300, `satisfied ${(satisfiedAt - last).toFixed(1)} ms after the last arrival, not before 300 ms`)
  const view = observer.view()
  t.equal(view.satisfied, true)
  t.equal(view.quietPeriod, 0.3)
  t.equal(view.basis, 'fixed')
  t.equal(view.sourcesJudged, 'per-source')
  t.ok((view.arrivalsSinceStart as number) >= 2)
  t.same(
    sources(observer).map((s) => [s.source, s.basis, s.windowSeconds, s.quiet]),
    [
      [NODES[0], 'fixed', 0.3, true],
      [NODES[1], 'fixed', 0.3, true],
    ],
  )
  t.same(observer.summary(), { basis: 'fixed', sourcesJudged: 'per-source', sources: 2, longestWindowSeconds: 0.3, revocations: 0 })
})

t.test('no activity after termination began: satisfied one window after start, never before', async (t) => {
  const { observations, observer, start } = setup(t, { quietPeriodMs: 300 })
  observations.clientArrived(NODES[0]!, performance.now() - 5_000) // in the history span, long before
  const startedAt = start()
  await sleep(150)
  if (performance.now() - startedAt < 300) {
    t.notOk(observer.satisfied, 'half a window in: not yet')
    const remaining = sources(observer)[0]!.remainingSeconds!
    t.ok(remaining > 0 && remaining <= 0.3, `remaining ${remaining} s`)
  }
  t.equal(observer.view().arrivalsSinceStart, 0)
  const satisfiedAt = await whenSatisfied(observer)
  t.ok(satisfiedAt - startedAt >= 300, `satisfied ${(satisfiedAt - startedAt).toFixed(1)} ms after start`)
  t.equal(sources(observer)[0]!.remainingSeconds, 0)
})

t.test('a new arrival revokes quiet at once; the node must earn a whole window again', async (t) => {
  const { observations, observer, start } = setup(t, { quietPeriodMs: 200 })
  history(observations, performance.now(), 5)
  start()
  await whenSatisfied(observer)
  const revoked = whenRevoked(observer)
  const arrivedAt = performance.now()
  observations.clientArrived(NODES[1]!, arrivedAt)
  t.notOk(observer.satisfied, 'the verdict is live')
  t.ok((await revoked) - arrivedAt < 50, 'and announced at once')
  t.equal(observer.revocations, 1)
  const again = await whenSatisfied(observer)
  t.ok(again - arrivedAt >= 200, `quiet again ${(again - arrivedAt).toFixed(0)} ms after the arrival`)
  t.equal(observer.summary().revocations, 1)
})

t.test('a request on an open connection (keep-alive) revokes quiet like an arrival', async (t) => {
  const { observations, observer, start } = setup(t, { quietPeriodMs: 200 })
  history(observations, performance.now(), 5)
  start()
  await whenSatisfied(observer)
  const requestAt = performance.now()
  observations.requestSeen(NODES[0]!, requestAt)
  t.notOk(observer.satisfied)
  const again = await whenSatisfied(observer)
  t.ok(again - requestAt >= 200)
  t.equal(observer.view().arrivalsSinceStart, 0, 'a request is activity, not an arrival')
})

t.test('a connection being classified holds quiet back from its accept time; a health check is taken back out', async (t) => {
  const { observations, observer, start } = setup(t, { quietPeriodMs: 200 })
  history(observations, performance.now(), 5)
  start()
  await whenSatisfied(observer)
  const rec = observations.connectionAccepted(NODES[0]!, performance.now())
  t.notOk(observer.satisfied, 'accepted, not classified: maybe a client')
  t.equal(observer.revocations, 0, 'not counted as a revocation while it may be a health check')
  const back = whenSatisfied(observer)
  observations.connectionClassified(rec, performance.now(), false)
  const at = await back
  t.ok(at > 0 && observer.satisfied, 'quiet again once the probe is classified: it was no arrival')
  t.equal(observer.view().arrivalsSinceStart, 0)
  t.equal(observer.revocations, 0, 'a health check revokes nothing')
})

t.test('a connection accepted while quiet and classified a client counts as a revocation', async (t) => {
  const { observations, observer, start } = setup(t, { quietPeriodMs: 200 })
  history(observations, performance.now(), 5)
  start()
  await whenSatisfied(observer)
  const acceptedAt = performance.now()
  const rec = observations.connectionAccepted(NODES[0]!, acceptedAt) // as every connection through the ingress
  t.notOk(observer.satisfied)
  await sleep(20)
  observations.connectionClassified(rec, acceptedAt, true)
  const again = await whenSatisfied(observer)
  t.ok(again - acceptedAt >= 200, 'a whole window from its accept time')
  t.equal(observer.view().arrivalsSinceStart, 1)
  t.equal(observer.revocations, 1, 'the revocation is counted (metrics, log) once it is known to be a client')
  t.equal(observer.summary().revocations, 1)
})

t.test('per node: each judged by its own rate; quiet only when every node is quiet by its own window', async (t) => {
  const startedAt = Math.floor(performance.now())
  const lagMs = 1_000
  const { observations, observer, start } = setup(t, { quietPeriodMinMs: 10, quietPeriodMaxMs: 5_000, lagMs, since: startedAt - 60_000 })
  // Node a: 100/s; node b: 20/s in the minute before termination.
  for (let i = 0; i < 6000; i++) {
    observations.clientArrived('a', startedAt - 60_000 + (i + 1) * 10)
    if (i % 5 === 4) observations.clientArrived('b', startedAt - 60_000 + (i + 1) * 10)
  }
  const judged = observer.judgeAt(startedAt)
  t.equal(judged.pooled, false)
  t.match(judged.why, /2 peer\(s\) sent in the history span/)
  const wa = judged.windows.get('a')!
  const wb = judged.windows.get('b')!
  if (wa.basis !== 'evidence' || wb.basis !== 'evidence') throw new Error('expected evidence for both nodes')
  t.equal(wa.sampleSize, 6000)
  t.equal(wb.sampleSize, 1200)
  t.ok(Math.abs(wa.windowMs / requiredWindowMs(6000, 60_000, 1e-6 / 2, 2, lagMs) - 1) < 1e-12, 'each node holds half the target')
  t.ok(wb.windowMs > 3 * wa.windowMs, `the sparser node waits longer: ${wb.windowMs.toFixed(0)} ms vs ${wa.windowMs.toFixed(0)} ms`)
  start(startedAt)
  const satisfiedAt = await whenSatisfied(observer)
  t.ok(satisfiedAt - startedAt >= wb.windowMs, "not before the slower node's window")
  t.same(
    sources(observer).map((s) => [s.source, s.basis, s.quiet]),
    [
      ['a', 'evidence', true],
      ['b', 'evidence', true],
    ],
  )
  const v = observer.view()
  t.equal(v.basis, 'evidence')
  t.equal(v.falseStopTarget, 1e-6)
  const bound = observer.summary().falseStopBound as number
  t.ok(bound > 0 && bound <= 1e-6 * 1.01, `the printed bound ${bound} holds the target`)
})

t.test('a looser target gives a shorter window; bad settings are refused with codes', async (t) => {
  const at = Math.floor(performance.now())
  const { observations, observer } = setup(t, { since: at - 60_000 })
  for (let i = 0; i < 300; i++) observations.clientArrived('a', at - 60_000 + (i + 1) * 200) // 5/s
  const lagClock = new LagClock(60_000, false)
  const loose = new TrafficObserver({ observations, lagClock, falseStopProbability: 1e-3 })
  t.teardown(() => loose.stop())
  const strict = observer.judgeAt(at).windows.get('a')!
  const looser = loose.judgeAt(at).windows.get('a')!
  if (strict.basis !== 'evidence' || looser.basis !== 'evidence') throw new Error('expected evidence')
  t.ok(looser.windowMs < strict.windowMs * 0.75, `p = 1e-3: ${looser.windowMs.toFixed(0)} ms < p = 1e-6: ${strict.windowMs.toFixed(0)} ms`)
  t.throws(() => new TrafficObserver({ observations, lagClock, falseStopProbability: 0 }), { code: 'ERR_QUIET_PERIOD_PROBABILITY' })
  t.throws(() => new TrafficObserver({ observations, lagClock, quietPeriodMs: -1 }), { code: 'ERR_QUIET_PERIOD' })
  t.throws(() => new TrafficObserver({ observations, lagClock, quietPeriodMinMs: 5_000, quietPeriodMaxMs: 1_000 }), {
    code: 'ERR_QUIET_PERIOD_BOUNDS',
  })
  t.throws(() => new TrafficObserver({ observations, lagClock, rateDrop: 0.5 }), { code: 'ERR_QUIET_PERIOD' })
})

t.test('no history: no evidence; waits for the lag bound from termination start, not a floor', async (t) => {
  const { observer, start } = setup(t, { quietPeriodMinMs: 50, lagMs: 400 })
  const startedAt = start()
  t.same(
    sources(observer).map((s) => [s.source, s.basis, s.why]),
    [['(no traffic)', 'lag-bound', 'no arrivals in the history span']],
  )
  await sleep(150)
  t.notOk(observer.satisfied, 'three floors later: still waiting')
  const satisfiedAt = await whenSatisfied(observer)
  t.ok(satisfiedAt - startedAt >= 400, `satisfied ${(satisfiedAt - startedAt).toFixed(0)} ms after start: the lag bound`)
  t.equal(observer.view().basis, 'lag-bound')
  t.equal((observer.view().lagBound as { deregistration: string }).deregistration, 'termination start')
})

t.test('too sparse for evidence: the lag bound from when elbv2 saw the deregistration; unknown until then', async (t) => {
  const at = Math.floor(performance.now())
  const { observations, observer, lagClock, start } = setup(t, { lagMs: 300, waitForElbv2: true, since: at - 60_000 })
  for (let i = 0; i < 3; i++) observations.clientArrived('a', at - 50_000 + i * 10_000) // 0.05/s
  start(at)
  t.same(
    sources(observer).map((s) => [s.basis, s.why]),
    [['lag-bound', 'too few arrivals: the window needed exceeds --quiet-period-max']],
  )
  t.ok((sources(observer)[0]!.requiredSeconds ?? 0) > 60, 'what the evidence would have needed is shown')
  await sleep(400)
  t.notOk(observer.satisfied, 'deregistration not known: ∞')
  t.equal(sources(observer)[0]!.remainingSeconds, null)
  const toldAt = performance.now()
  lagClock.deregistered(toldAt, false)
  const satisfiedAt = await whenSatisfied(observer)
  t.ok(satisfiedAt - toldAt >= 300, `satisfied ${(satisfiedAt - toldAt).toFixed(0)} ms after deregistration`)
})

t.test('activity after the lag deadline needs a whole window after it (the longest auto window)', async (t) => {
  const { observations, observer, start } = setup(t, { lagMs: 100, quietPeriodMinMs: 50, quietPeriodMaxMs: 300 })
  const startedAt = start()
  await whenSatisfied(observer)
  const lateAt = performance.now()
  t.ok(lateAt - startedAt >= 100)
  observations.clientArrived('a', lateAt) // a first arrival past the lag bound: the LB lags longer than assumed
  t.notOk(observer.satisfied)
  const again = await whenSatisfied(observer)
  t.ok(again - lateAt >= 300, `quiet again ${(again - lateAt).toFixed(0)} ms after it: --quiet-period-max`)
  t.same(
    sources(observer).map((s) => [s.source, s.basis]),
    [['a', 'lag-bound']],
    'the source first seen after start is judged by the lag bound',
  )
})

t.test('a node first seen after termination began waits for the lag bound', async (t) => {
  const { observations, observer, start } = setup(t, { quietPeriodMs: 100, lagMs: 500 })
  history(observations, performance.now(), 5, ['a'])
  const startedAt = start()
  observations.clientArrived('new', performance.now())
  const satisfiedAt = await whenSatisfied(observer)
  t.ok(satisfiedAt - startedAt >= 500, `${(satisfiedAt - startedAt).toFixed(0)} ms: the lag bound, not a's 100 ms window`)
  t.same(
    sources(observer).map((s) => [s.source, s.basis]),
    [
      ['a', 'fixed'],
      ['new', 'lag-bound'],
    ],
  )
  t.equal(observer.view().basis, 'lag-bound')
})

t.test('pooled: more than MAX_PER_SOURCE peers are clients, judged as one; --lb-sources pooled forces it', async (t) => {
  const at = Math.floor(performance.now())
  const { observations, observer } = setup(t, { since: at - 60_000 })
  for (let i = 0; i < 600; i++) observations.clientArrived(`192.0.2.${i % (MAX_PER_SOURCE + 1)}`, at - 60_000 + (i + 1) * 100)
  const j = observer.judgeAt(at)
  t.equal(j.pooled, true)
  t.match(j.why, /clients, not LB nodes/)
  t.same([...j.windows.keys()], ['(all peers)'])
  t.equal(j.windows.get('(all peers)')!.sampleSize, 600)
  t.equal(observer.view().sourcesJudged, 'pooled')

  const forced = setup(t, { sources: 'pooled', since: at - 60_000 })
  history(forced.observations, at, 10)
  const f = forced.observer.judgeAt(at)
  t.equal(f.pooled, true)
  t.equal(f.why, '--lb-sources pooled')
  t.equal(f.windows.get('(all peers)')!.sampleSize, 20)
})

t.test("pooled at run time: any peer's activity holds the pool back", async (t) => {
  const { observations, observer, start } = setup(t, { sources: 'pooled', quietPeriodMs: 200 })
  history(observations, performance.now(), 5)
  start()
  await whenSatisfied(observer)
  const at = performance.now()
  observations.clientArrived('198.51.100.7', at) // a peer never seen before: in the pool, not a late source
  t.notOk(observer.satisfied)
  const again = await whenSatisfied(observer)
  t.ok(again - at >= 200 && again - at < 5_000, 'a pool window after it, not the lag bound')
  t.same(
    sources(observer).map((s) => s.source),
    ['(all peers)'],
  )
})

t.test("before start: not satisfied; the view previews each node's window", async (t) => {
  const { observations, observer } = setup(t, { quietPeriodMs: 100 })
  history(observations, performance.now(), 5)
  await sleep(150)
  t.notOk(observer.satisfied)
  const v = observer.view()
  t.equal(v.preview, true)
  t.equal(v.basis, null)
  t.same(
    sources(observer).map((s) => [s.source, s.basis, s.windowSeconds]),
    [
      [NODES[0], 'fixed', 0.1],
      [NODES[1], 'fixed', 0.1],
    ],
  )
  t.doesNotThrow(() => JSON.stringify(v))
})

t.test('stop() before the window ends: no timer left behind, start() ignored after stop', async (t) => {
  const { observations, observer, start } = setup(t, { quietPeriodMs: 200 })
  history(observations, performance.now(), 5)
  let changes = 0
  observer.onChange(() => {
    changes++
  })
  start()
  observer.stop()
  observer.stop() // idempotent
  await sleep(400)
  t.equal(changes, 0, 'no timer announced anything after stop()')
  observations.clientArrived(NODES[0]!, performance.now())
  t.equal(changes, 0, 'nor the activity watch')
})
