// The auto quiet window: shape of the formula, fallbacks, clamps, and the false-stop property
// checked by simulating Poisson arrivals through TrafficObservations.
import t from 'tap'
import { TrafficObservations } from '../../src/lifecycle/observations.js'
import { autoQuietWindow, fixedQuietWindow, plugInQuietSeconds, FALSE_STOP_PROBABILITY, DEFAULT_QUIET_PERIOD_BOUNDS } from '../../src/lifecycle/quiet-period.js'

const WIDE = { minSeconds: 1e-9, maxSeconds: 1e12 } // bounds that never bind: test the formula itself

/** mulberry32: small, seeded, good enough for simulation. */
function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('the window shrinks as the arrival rate grows', async (t) => {
  let previous = Number.POSITIVE_INFINITY
  for (const count of [20, 50, 100, 200, 400, 800]) {
    const w = autoQuietWindow(count, 60, WIDE)
    t.equal(w.derivation, 'auto')
    t.ok(w.seconds < previous, `${count} arrivals in 60 s → ${w.seconds.toFixed(3)} s, shorter than ${previous.toFixed(3)} s`)
    previous = w.seconds
  }
  // Same count over a longer span = lower rate = longer window.
  t.ok(autoQuietWindow(100, 120, WIDE).seconds > autoQuietWindow(100, 60, WIDE).seconds)
})

t.test('large samples converge on the Poisson formula ln(1/p)/λ; small samples are longer', async (t) => {
  const lnInv = Math.log(1 / FALSE_STOP_PROBABILITY)
  const big = autoQuietWindow(100_000, 60, WIDE)
  const poisson = lnInv / (100_000 / 60)
  t.ok(Math.abs(big.seconds / poisson - 1) < 1e-3, `${big.seconds} ≈ ${poisson}`)
  t.ok(Math.abs(big.conservativeRatePerSecond! / big.ratePerSecond! - 1) < 1e-3)
  for (const n of [1, 5, 30, 300]) {
    const w = autoQuietWindow(n, 60, WIDE)
    t.ok(w.seconds > plugInQuietSeconds(n, 60), `n=${n}: ${w.seconds.toFixed(2)} s > plug-in ${plugInQuietSeconds(n, 60).toFixed(2)} s`)
    t.equal(w.sampleSize, n)
    t.equal(w.ratePerSecond, n / 60)
  }
})

t.test('no arrivals in the history window → the floor', async (t) => {
  const w = autoQuietWindow(0, 60, { minSeconds: 3, maxSeconds: 40 })
  t.equal(w.seconds, 3)
  t.equal(w.derivation, 'auto-floor')
  t.equal(w.sampleSize, 0)
  // No span observed at all (terminating the moment we started) is no history either.
  t.equal(autoQuietWindow(0, 0).seconds, DEFAULT_QUIET_PERIOD_BOUNDS.minSeconds)
  t.equal(autoQuietWindow(0, 0).derivation, 'auto-floor')
  // Through TrafficObservations: nothing recorded.
  const obs = new TrafficObservations({ since: 0 })
  const s = obs.sampleBefore(60_000)
  t.same(s, { count: 0, spanMs: 60_000, truncated: false })
  t.equal(autoQuietWindow(s.count, s.spanMs / 1000).derivation, 'auto-floor')
})

t.test('clamps to [min, max] and says which bound applied', async (t) => {
  const bounds = { minSeconds: 2, maxSeconds: 60 }
  const low = autoQuietWindow(1, 60, bounds) // one arrival a minute: unclamped ~ 60 000 000 s
  t.equal(low.seconds, 60)
  t.equal(low.clamped, 'max')
  t.ok(low.unclampedSeconds! > 60)
  const high = autoQuietWindow(60_000, 60, bounds) // 1000/s: unclamped ~14 ms
  t.equal(high.seconds, 2)
  t.equal(high.clamped, 'min')
  t.ok(high.unclampedSeconds! < 2)
  const mid = autoQuietWindow(300, 60, bounds)
  t.equal(mid.clamped, undefined)
  t.equal(mid.seconds, mid.unclampedSeconds)
  t.ok(mid.seconds > 2 && mid.seconds < 60)
})

t.test('bad settings are refused with codes', async (t) => {
  t.throws(() => autoQuietWindow(10, 60, { minSeconds: 0, maxSeconds: 60 }), { code: 'ERR_QUIET_PERIOD_BOUNDS' })
  t.throws(() => autoQuietWindow(10, 60, { minSeconds: 10, maxSeconds: 5 }), { code: 'ERR_QUIET_PERIOD_BOUNDS' })
  t.throws(() => autoQuietWindow(10, 60, WIDE, 0), { code: 'ERR_QUIET_PERIOD_PROBABILITY' })
  t.throws(() => autoQuietWindow(10, 60, WIDE, 1), { code: 'ERR_QUIET_PERIOD_PROBABILITY' })
  t.throws(() => fixedQuietWindow(-1), { code: 'ERR_QUIET_PERIOD' })
  t.throws(() => fixedQuietWindow(Number.NaN), { code: 'ERR_QUIET_PERIOD' })
  t.same(fixedQuietWindow(5), { seconds: 5, derivation: 'fixed' })
})

t.test('false-stop probability below 1e-6 for simulated Poisson arrivals (seeded)', async (t) => {
  // For each true rate λ: simulate the 60 s before termination many times, estimate W from what
  // TrafficObservations recorded, and average the exact probability e^(−λW) that a still-active
  // LB at rate λ shows a quiet gap of W. The auto window must keep that average below p; the
  // plug-in estimate ln(1/p)/(n/T) must not (that is why we do not use it).
  const T = 60
  const runs = 3000
  const rand = seeded(0x5eed)
  let spansOk = true
  for (const lambda of [0.3, 1, 3]) {
    let auto = 0
    let plugIn = 0
    for (let r = 0; r < runs; r++) {
      const obs = new TrafficObservations({ historyMs: T * 1000, since: 0 })
      let now = -Math.log(1 - rand()) / lambda * 1000
      while (now < T * 1000) {
        obs.clientArrived('10.0.0.1', now)
        now += -Math.log(1 - rand()) / lambda * 1000
      }
      const sample = obs.sampleBefore(T * 1000)
      spansOk &&= sample.spanMs === T * 1000 && !sample.truncated
      if (sample.count === 0) { auto += 1; plugIn += 1; continue } // floor: the known weak spot (P(n=0) = e^(−λT) is < 1e-7 here)
      const w = autoQuietWindow(sample.count, sample.spanMs / 1000, WIDE)
      auto += Math.exp(-lambda * w.seconds)
      plugIn += Math.exp(-lambda * plugInQuietSeconds(sample.count, sample.spanMs / 1000))
    }
    auto /= runs
    plugIn /= runs
    t.ok(auto < FALSE_STOP_PROBABILITY, `λ=${lambda}/s: auto window false-stop ${auto.toExponential(2)} < 1e-6`)
    t.ok(plugIn > FALSE_STOP_PROBABILITY, `λ=${lambda}/s: plug-in would give ${plugIn.toExponential(2)} > 1e-6`)
  }
  t.ok(spansOk, 'every sample spanned the whole history window')
})
