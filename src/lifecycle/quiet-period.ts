// How long must no new connection arrive before we believe the load balancer stopped sending?
//
// `auto` answers from the arrival rate seen before termination. For Poisson arrivals at a known
// rate λ, a gap of W seconds happens with probability e^(−λW), so W = ln(1/p)/λ makes calling a
// still-active LB "stopped" less likely than p (p = 1e-6 → W = 13.8/λ).
//
// λ is not known, only estimated from n arrivals over a span of T seconds, and plugging the
// estimate n/T into that formula is too optimistic when n is small: chance lows in n shorten W a
// lot more than chance highs lengthen it (e^(−x) is convex), so averaged over samples the
// false-stop probability exceeds p (at λT = 30 by ~6×, at λT = 3 by ~200×). Instead we average over
// what λ could be given the sample: with the scale-invariant prior p(λ) ∝ 1/λ the posterior is
// Gamma(n, T), and the probability of no arrival in W is then (T / (T + W))^n. Setting that to p:
//
//     W = T · (p^(−1/n) − 1) = T · expm1(ln(1/p) / n)
//
// which tends to ln(1/p)/(n/T) for large n (the Poisson formula) and is longer for small n. For any
// true λ, the false-stop probability averaged over the samples one might have seen stays below p
// (test/lifecycle/quiet-period.test.ts checks this by simulation; the plug-in estimate fails it).
//
// With no arrival in the span we fall back to the floor: a target that got no client connection
// for the whole history window is not being sent traffic. The result is clamped to [min, max].

import { ObserverConfigError } from './observers/errors.js'

/** The target probability of calling a still-active LB "stopped". */
export const FALSE_STOP_PROBABILITY = 1e-6

export interface QuietPeriodBounds {
  /** Floor of the auto window, seconds; also the window without traffic history. Default 2. */
  minSeconds: number
  /** Ceiling of the auto window, seconds. Default 60. */
  maxSeconds: number
}

export const DEFAULT_QUIET_PERIOD_BOUNDS: Readonly<QuietPeriodBounds> = Object.freeze({ minSeconds: 2, maxSeconds: 60 })

/** How a quiet window was chosen: JSON-safe, shown in GET /status. */
export interface QuietWindow {
  /** The window, seconds. */
  seconds: number
  /** `fixed`: configured; `auto`: from the arrival rate; `auto-floor`: auto without arrivals in the history. */
  derivation: 'fixed' | 'auto' | 'auto-floor'
  /** Arrivals counted (auto only). */
  sampleSize?: number
  /** Span they were counted over, seconds (auto only). */
  sampleSpanSeconds?: number
  /** n / T, arrivals per second (auto only). */
  ratePerSecond?: number
  /** ln(1/p) / W before clamping: the (lower) rate the window actually guards against. */
  conservativeRatePerSecond?: number
  /** W before clamping, seconds (auto only). */
  unclampedSeconds?: number
  /** Which bound applied, if any. */
  clamped?: 'min' | 'max'
  /** The target false-stop probability p (auto with a sample only). */
  falseStopProbability?: number
}

/** Validates the bounds; throws ERR_QUIET_PERIOD_BOUNDS. */
export function checkQuietPeriodBounds (bounds: QuietPeriodBounds): void {
  const { minSeconds, maxSeconds } = bounds
  if (!(Number.isFinite(minSeconds) && minSeconds > 0 && Number.isFinite(maxSeconds) && maxSeconds >= minSeconds)) {
    throw new ObserverConfigError('ERR_QUIET_PERIOD_BOUNDS', `quiet period bounds must satisfy 0 < min ≤ max, got min ${minSeconds} s, max ${maxSeconds} s`)
  }
}

/**
 * The auto quiet window for `count` arrivals seen over `spanSeconds`.
 * `p` is the false-stop probability to stay under (default 1e-6).
 */
export function autoQuietWindow (count: number, spanSeconds: number, bounds: QuietPeriodBounds = DEFAULT_QUIET_PERIOD_BOUNDS, p = FALSE_STOP_PROBABILITY): QuietWindow {
  checkQuietPeriodBounds(bounds)
  if (!(p > 0 && p < 1)) throw new ObserverConfigError('ERR_QUIET_PERIOD_PROBABILITY', `false-stop probability must be in (0, 1), got ${p}`)
  if (!(count > 0) || !(spanSeconds > 0)) {
    return { seconds: bounds.minSeconds, derivation: 'auto-floor', sampleSize: Math.max(0, count), sampleSpanSeconds: Math.max(0, spanSeconds), ratePerSecond: 0 }
  }
  const lnInv = -Math.log(p)
  const unclamped = spanSeconds * Math.expm1(lnInv / count)
  const window: QuietWindow = {
    seconds: unclamped,
    derivation: 'auto',
    sampleSize: count,
    sampleSpanSeconds: spanSeconds,
    ratePerSecond: count / spanSeconds,
    conservativeRatePerSecond: lnInv / unclamped,
    unclampedSeconds: unclamped,
    falseStopProbability: p
  }
  if (unclamped < bounds.minSeconds) {
    window.seconds = bounds.minSeconds
    window.clamped = 'min'
  } else if (unclamped > bounds.maxSeconds) {
    window.seconds = bounds.maxSeconds
    window.clamped = 'max'
  }
  return window
}

/** The plug-in window ln(1/p) / (n/T), unclamped: the naive estimate, kept for comparison. */
export function plugInQuietSeconds (count: number, spanSeconds: number, p = FALSE_STOP_PROBABILITY): number {
  return -Math.log(p) / (count / spanSeconds)
}

/** A configured fixed window. */
export function fixedQuietWindow (seconds: number): QuietWindow {
  if (!(Number.isFinite(seconds) && seconds >= 0)) {
    throw new ObserverConfigError('ERR_QUIET_PERIOD', `quiet period must be a non-negative number of seconds or 'auto', got ${seconds}`)
  }
  return { seconds, derivation: 'fixed' }
}
