// The per-node quiet window (quiet-period.ts): shape of the bound, the lag-bound fallback, and
// the false-stop rate a termination actually achieves, by seeded simulation of Poisson arrivals
// per LB node over the history span and the whole lag period.
import t from 'tap'
import { TrafficObservations } from '../../src/lifecycle/observations.js'
import {
  checkEvidenceOptions,
  evidenceWindow,
  falseStopBound,
  fixedWindow,
  plugInWindowMs,
  requiredWindowMs,
  DEFAULT_RATE_DROP,
  FALSE_STOP_PROBABILITY,
  type EvidenceOptions,
  type SourceWindow,
} from '../../src/lifecycle/quiet-period.js'

const T = 60_000 // history span, ms
const L = 180_000 // --lb-lag-max, ms
const WIDE: EvidenceOptions = {
  minMs: 1e-9,
  maxMs: 1e15,
  rateDrop: DEFAULT_RATE_DROP,
  lagMs: L,
  falseStopProbability: FALSE_STOP_PROBABILITY,
}
const DEFAULTS: EvidenceOptions = {
  minMs: 2_000,
  maxMs: 60_000,
  rateDrop: DEFAULT_RATE_DROP,
  lagMs: L,
  falseStopProbability: FALSE_STOP_PROBABILITY,
}

/** mulberry32: small, seeded, good enough for simulation. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** Arrival times of a Poisson process of `perSecond` on (from, to), ms. */
function poisson(rand: () => number, perSecond: number, from: number, to: number): number[] {
  const out: number[] = []
  const meanGapMs = 1000 / perSecond
  for (let at = from - Math.log(1 - rand()) * meanGapMs; at < to; at += -Math.log(1 - rand()) * meanGapMs) out.push(at)
  return out
}

/** How many arrivals a Poisson process of `perSecond` sends over `spanMs` (counted, not kept). */
function poissonCount(rand: () => number, perSecond: number, spanMs: number): number {
  let n = 0
  const meanGapMs = 1000 / perSecond
  for (let at = -Math.log(1 - rand()) * meanGapMs; at < spanMs; at += -Math.log(1 - rand()) * meanGapMs) n++
  return n
}

const windowMs = (w: SourceWindow): number => ('windowMs' in w ? w.windowMs : Number.NaN)

t.test('the window shrinks as the rate grows, and grows with the lag, the rate drop and a tighter target', async (t) => {
  let previous = Number.POSITIVE_INFINITY
  for (const n of [20, 50, 100, 200, 400, 800]) {
    const w = evidenceWindow(n, T, WIDE)
    t.equal(w.basis, 'evidence')
    t.ok(
      windowMs(w) < previous,
      `${n} arrivals in 60 s → ${(windowMs(w) / 1000).toFixed(3)} s, shorter than ${(previous / 1000).toFixed(3)} s`,
    )
    previous = windowMs(w)
  }
  t.ok(
    requiredWindowMs(100, 2 * T, 1e-6, 2, L) > requiredWindowMs(100, T, 1e-6, 2, L),
    'same count over a longer span: a lower rate, a longer window',
  )
  t.ok(requiredWindowMs(100, T, 1e-6, 2, 2 * L) > requiredWindowMs(100, T, 1e-6, 2, L), 'a longer lag: more gaps that could fool us')
  t.ok(requiredWindowMs(100, T, 1e-6, 4, L) > requiredWindowMs(100, T, 1e-6, 2, L), 'a larger rate drop')
  t.ok(requiredWindowMs(100, T, 1e-9, 2, L) > requiredWindowMs(100, T, 1e-6, 2, L), 'a tighter target')
})

t.test('the bisection finds the shortest window that holds the bound', async (t) => {
  for (const [n, q] of [
    [5, 1e-3],
    [30, 1e-6],
    [300, 1e-6],
    [3000, 3.3e-7],
  ] as const) {
    const w = requiredWindowMs(n, T, q, 2, L)
    const at = falseStopBound(n, T, w, 2, L)
    // Equal up to rounding: W is derived back from the bisection's x.
    t.ok(at <= q * (1 + 1e-9), `n=${n}: bound ${at.toExponential(3)} ≤ ${q} at ${(w / 1000).toFixed(3)} s`)
    t.ok(falseStopBound(n, T, w * 0.999, 2, L) > q, 'and a 0.1% shorter window breaks it')
  }
  // Without the lag's extra gaps and without a rate drop it is the posterior single-window
  // formula: xⁿ = q with x = T/(T+W), so W = T·(q^(−1/n) − 1).
  for (const n of [1, 10, 100]) {
    const w = requiredWindowMs(n, T, 1e-6, 1, 0)
    const closed = T * (1e-6 ** (-1 / n) - 1)
    t.ok(Math.abs(w / closed - 1) < 1e-9, `n=${n}: ${w.toFixed(1)} ms = ${closed.toFixed(1)} ms`)
  }
  // A target below what the bisection can resolve (x ≥ 2⁻⁶⁰) gives ∞, not a made-up number.
  t.equal(requiredWindowMs(1, T, 1e-20, 2, L), Number.POSITIVE_INFINITY)
  t.equal(evidenceWindow(1, T, { ...WIDE, falseStopProbability: 1e-20 }).basis, 'lag-bound')
})

t.test('large samples converge on κ·(ln(1/q) + ln(λL/κ))/λ; small samples are longer than the plug-in', async (t) => {
  const n = 1_000_000
  const lambda = n / T // per ms
  const asymptote = (DEFAULT_RATE_DROP * (Math.log(1 / 1e-6) + Math.log((lambda * L) / DEFAULT_RATE_DROP))) / lambda
  const w = requiredWindowMs(n, T, 1e-6, DEFAULT_RATE_DROP, L)
  t.ok(Math.abs(w / asymptote - 1) < 1e-3, `${w.toFixed(4)} ms ≈ ${asymptote.toFixed(4)} ms`)
  for (const k of [1, 5, 30, 300]) {
    const e = evidenceWindow(k, T, WIDE)
    t.ok(
      windowMs(e) > plugInWindowMs(k, T),
      `n=${k}: ${(windowMs(e) / 1000).toFixed(2)} s > plug-in ${(plugInWindowMs(k, T) / 1000).toFixed(2)} s`,
    )
    t.equal(e.sampleSize, k)
    t.equal(e.sampleSpanMs, T)
  }
})

t.test('evidence: the floor applies to the window, the bound printed is the one the window holds', async (t) => {
  const busy = evidenceWindow(60_000, T, DEFAULTS) // 1000/s: the evidence calls for a few ms
  if (busy.basis !== 'evidence') throw new Error('expected evidence')
  t.equal(busy.windowMs, 2_000, 'the floor')
  t.ok(busy.requiredMs < 2_000, `required ${busy.requiredMs.toFixed(1)} ms, below the floor`)
  t.ok(busy.falseStopBound < 1e-100, 'the floor only makes it safer, and the bound says so')
  const mid = evidenceWindow(600, T, DEFAULTS) // 10/s
  if (mid.basis !== 'evidence') throw new Error('expected evidence')
  t.equal(mid.windowMs, mid.requiredMs, 'between the bounds: the required window itself')
  t.ok(mid.windowMs > 2_000 && mid.windowMs < 60_000, `${(mid.windowMs / 1000).toFixed(2)} s`)
  t.ok(
    mid.falseStopBound <= 1e-6 * (1 + 1e-9) && mid.falseStopBound > 0.5e-6,
    `bound ${mid.falseStopBound.toExponential(2)} holds the target, tightly`,
  )
})

t.test('no evidence is not evidence: no arrivals, no span, or too few → lag-bound, never a floor or a clamped ceiling', async (t) => {
  t.same(evidenceWindow(0, T, DEFAULTS), { basis: 'lag-bound', why: 'no arrivals in the history span', sampleSize: 0, sampleSpanMs: T })
  t.same(evidenceWindow(0, 0, DEFAULTS), { basis: 'lag-bound', why: 'no arrivals in the history span', sampleSize: 0, sampleSpanMs: 0 })
  t.equal(evidenceWindow(3, 0, DEFAULTS).basis, 'lag-bound', 'arrivals over no span are no rate')
  const sparse = evidenceWindow(3, T, DEFAULTS) // 0.05/s: the old code clamped this to 60 s
  t.equal(sparse.basis, 'lag-bound')
  if (sparse.basis !== 'lag-bound') return
  t.equal(sparse.why, 'too few arrivals: the window needed exceeds --quiet-period-max')
  t.ok(sparse.requiredMs! > 60_000, `the evidence would need ${(sparse.requiredMs! / 1000).toFixed(0)} s`)
  t.notOk('windowMs' in sparse, 'no window at all')
  // Through TrafficObservations: nothing recorded.
  const obs = new TrafficObservations({ since: 0 })
  const s = obs.sampleBefore(T)
  t.same(s, { count: 0, spanMs: T, truncated: false, bySource: new Map() })
  t.equal(evidenceWindow(s.count, s.spanMs, DEFAULTS).basis, 'lag-bound')
})

t.test('fixed windows: for a source that sent; lag-bound for one that did not', async (t) => {
  t.same(fixedWindow(5_000, 10, T), { basis: 'fixed', windowMs: 5_000, sampleSize: 10, sampleSpanMs: T })
  t.same(fixedWindow(5_000, 0, T), { basis: 'lag-bound', why: 'no arrivals in the history span', sampleSize: 0, sampleSpanMs: T })
  t.throws(() => fixedWindow(-1, 1, T), { code: 'ERR_QUIET_PERIOD' })
  t.throws(() => fixedWindow(Number.NaN, 1, T), { code: 'ERR_QUIET_PERIOD' })
})

t.test('bad settings are refused with codes', async (t) => {
  t.throws(() => checkEvidenceOptions({ ...DEFAULTS, minMs: 0 }), { code: 'ERR_QUIET_PERIOD_BOUNDS' })
  t.throws(() => checkEvidenceOptions({ ...DEFAULTS, minMs: 10_000, maxMs: 5_000 }), { code: 'ERR_QUIET_PERIOD_BOUNDS' })
  t.throws(() => checkEvidenceOptions({ ...DEFAULTS, maxMs: Number.POSITIVE_INFINITY }), { code: 'ERR_QUIET_PERIOD_BOUNDS' })
  t.throws(() => checkEvidenceOptions({ ...DEFAULTS, falseStopProbability: 0 }), { code: 'ERR_QUIET_PERIOD_PROBABILITY' })
  t.throws(() => checkEvidenceOptions({ ...DEFAULTS, falseStopProbability: 1 }), { code: 'ERR_QUIET_PERIOD_PROBABILITY' })
  t.throws(() => checkEvidenceOptions({ ...DEFAULTS, rateDrop: 0.5 }), { code: 'ERR_QUIET_PERIOD' })
  t.throws(() => checkEvidenceOptions({ ...DEFAULTS, lagMs: -1 }), { code: 'ERR_QUIET_PERIOD' })
  t.doesNotThrow(() => checkEvidenceOptions(DEFAULTS))
})

// ---- simulation ------------------------------------------------------------------------------

/**
 * One termination: each node sends at its rate over the history span, is given its window (or the
 * lag bound), then keeps sending at rate/drop until its own stop time (≤ the lag). The decision
 * drains at the first moment every node is quiet at once (a node is quiet from max(start, its
 * last arrival) + its window; a lag-bound node from the lag deadline). A false stop: some node
 * sends after that moment.
 */
interface SimNode {
  perSecond: number
  drop: number
  stopsAtMs: number
  window: (n: number) => number /* ms; ∞ = lag-bound */
}

function falseStop(rand: () => number, nodes: SimNode[]): boolean {
  const lists = nodes.map((node) => {
    const w = node.window(poissonCount(rand, node.perSecond, T))
    const arrivals = poisson(rand, node.perSecond / node.drop, 0, node.stopsAtMs)
    // Quiet intervals [from, to): after start and after each arrival, when the gap is long enough.
    const quiet: Array<[number, number]> = []
    if (!Number.isFinite(w))
      quiet.push([L, Number.POSITIVE_INFINITY]) // lag-bound: the deadline (arrivals all come before it)
    else {
      let last = 0
      for (const a of arrivals) {
        if (last + w < a) quiet.push([last + w, a])
        last = a
      }
      quiet.push([last + w, Number.POSITIVE_INFINITY])
    }
    return { quiet, lastArrival: arrivals.length === 0 ? Number.NEGATIVE_INFINITY : arrivals[arrivals.length - 1]! }
  })
  // The first moment inside one quiet interval of every node.
  let at = 0
  const idx = lists.map(() => 0)
  for (let moved = true; moved; ) {
    moved = false
    lists.forEach((l, i) => {
      while (l.quiet[idx[i]!]![1] <= at) idx[i]!++
      const [from] = l.quiet[idx[i]!]!
      if (from > at) {
        at = from
        moved = true
      }
    })
  }
  return lists.some((l) => l.lastArrival > at)
}

/** The evidence window for a node given its share q of the target, ms (∞ when lag-bound). */
const evidence =
  (o: EvidenceOptions) =>
  (n: number): number => {
    const w = evidenceWindow(n, T, o)
    return w.basis === 'evidence' ? w.windowMs : Number.POSITIVE_INFINITY
  }

/** Count of false stops in `trials` terminations, with a 95% upper confidence bound on the rate. */
function measure(rand: () => number, trials: number, make: () => SimNode[]): { rate: number; upper95: number; count: number } {
  let count = 0
  for (let i = 0; i < trials; i++) if (falseStop(rand, make())) count++
  const rate = count / trials
  return { rate, count, upper95: rate + (1.96 * Math.sqrt(Math.max(count, 1))) / trials }
}

t.test(
  'per-node windows hold the false-stop target over the whole lag, with rates dropping and nodes stopping apart (seeded)',
  async (t) => {
    // A target loose enough to count false stops directly: 1e-2 per termination, a third per node.
    // The nodes' rates drop by the full κ at termination (the worst the window allows for) and
    // each stops somewhere in the second half of the lag.
    const p = 1e-2
    const rand = seeded(0x5eed)
    const trials = 12_000
    for (const rates of [
      [1, 1, 1],
      [0.7, 2, 6],
    ]) {
      const o = { ...DEFAULTS, falseStopProbability: p / rates.length }
      let lagBound = 0
      const make = (): SimNode[] =>
        rates.map((perSecond) => ({
          perSecond,
          drop: DEFAULT_RATE_DROP,
          stopsAtMs: L * (0.5 + 0.5 * rand()),
          window: (n: number) => {
            const w = evidence(o)(n)
            if (!Number.isFinite(w)) lagBound++
            return w
          },
        }))
      const achieved = measure(rand, trials, make)
      t.comment(
        `nodes at ${rates.join(', ')}/s, rate halved during the lag: ${achieved.count} false stops in ${trials} terminations = ${achieved.rate.toExponential(2)} (95% ≤ ${achieved.upper95.toExponential(2)}), target ${p}; ${lagBound} of ${trials * rates.length} node windows fell back to the lag bound`,
      )
      t.ok(achieved.count < p * trials, `achieved ${achieved.rate.toExponential(2)} < ${p}`)

      // The plug-in estimate ln(1/p)/(n/T), tried once per termination as the old code did: far worse.
      const plugIn = measure(rand, trials / 4, () =>
        rates.map((perSecond) => ({
          perSecond,
          drop: DEFAULT_RATE_DROP,
          stopsAtMs: L * (0.5 + 0.5 * rand()),
          window: (n: number) => (n > 0 ? plugInWindowMs(n, T, p) : Number.POSITIVE_INFINITY),
        })),
      )
      t.comment(`  the plug-in window would give ${plugIn.rate.toExponential(2)}`)
      t.ok(plugIn.rate > 5 * p, `the plug-in fails the target: ${plugIn.rate.toExponential(2)} > ${p}`)
    }
  },
)

t.test('at the real target (1e-6) the per-node bound holds on average over simulated histories (seeded)', async (t) => {
  // Too rare to count: instead, for each simulated history, the exact expected number of gaps of
  // at least W that end in an arrival during the lag, for a node sending at λ/κ: μ(L−W)e^(−μW)
  // (first gap included). Their average bounds the node's false-stop rate from above.
  const rand = seeded(0xfa15e)
  const trials = 4_000
  const nodes = 3
  const o = { ...DEFAULTS, falseStopProbability: FALSE_STOP_PROBABILITY / nodes }
  for (const perSecond of [1, 3, 10, 20, 50]) {
    const mu = perSecond / DEFAULT_RATE_DROP / 1000 // per ms
    let expected = 0
    let lagBound = 0
    for (let i = 0; i < trials; i++) {
      const w = evidenceWindow(poissonCount(rand, perSecond, T), T, o)
      if (w.basis !== 'evidence') {
        lagBound++
        continue
      } // waits for the deadline: no false stop within the lag
      if (w.windowMs < L) expected += mu * (L - w.windowMs) * Math.exp(-mu * w.windowMs)
    }
    const achieved = expected / trials
    t.comment(
      `node at ${perSecond}/s: ${achieved.toExponential(2)} expected false stops per termination, ${(achieved / (FALSE_STOP_PROBABILITY / nodes)).toFixed(3)} of its share ${(FALSE_STOP_PROBABILITY / nodes).toExponential(2)}; ${lagBound} of ${trials} histories fell back to the lag bound`,
    )
    t.ok(achieved <= FALSE_STOP_PROBABILITY / nodes, `${perSecond}/s: under the node's share`)
    // The plug-in ln(1/p)/(n/T): one window, no lag, no drop.
    let plugIn = 0
    for (let i = 0; i < trials / 4; i++) {
      const n = poissonCount(rand, perSecond, T)
      const w = plugInWindowMs(n, T)
      plugIn += Math.min(1, mu * Math.max(0, L - w) * Math.exp(-mu * w))
    }
    t.ok(plugIn / (trials / 4) > 100 * FALSE_STOP_PROBABILITY, `  the plug-in gives ${(plugIn / (trials / 4)).toExponential(2)}`)
  }
})

t.test('a node too sparse for evidence gets the lag bound, not a clamped window (seeded)', async (t) => {
  const rand = seeded(0x5a55)
  const trials = 2_000
  for (const perSecond of [0.01, 0.05, 0.2]) {
    let lagBound = 0
    let clampedFalse = 0
    const whys = new Set<string>()
    for (let i = 0; i < trials; i++) {
      const w = evidenceWindow(poissonCount(rand, perSecond, T), T, DEFAULTS)
      if (w.basis === 'lag-bound') {
        lagBound++
        whys.add(w.why)
      }
      // What the old code's 60 s ceiling would have done over the lag, rate halved.
      if (falseStop(rand, [{ perSecond, drop: DEFAULT_RATE_DROP, stopsAtMs: L, window: () => DEFAULTS.maxMs }])) clampedFalse++
    }
    // And the lag bound itself: the decision waits for the deadline, so nothing the LB sends
    // within the lag is refused.
    let lagFalse = 0
    for (let i = 0; i < trials / 4; i++)
      if (falseStop(rand, [{ perSecond, drop: DEFAULT_RATE_DROP, stopsAtMs: L, window: () => Number.POSITIVE_INFINITY }])) lagFalse++
    t.comment(
      `${perSecond}/s: ${lagBound}/${trials} lag-bound (${[...whys].join('; ')}); a clamped 60 s window would false-stop ${(clampedFalse / trials).toExponential(2)} of terminations, the lag bound ${lagFalse}`,
    )
    t.equal(lagBound, trials, `${perSecond}/s: every history falls back to the lag bound`)
    t.equal(lagFalse, 0)
    t.ok(clampedFalse / trials > 0.01, 'the clamp hid a real risk')
  }
})
