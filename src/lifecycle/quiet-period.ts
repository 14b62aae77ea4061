// How long must a load-balancer node send no new connection before we believe it stopped?
//
// Evidence is the node's own arrivals in the history span before termination: n arrivals over T
// seconds. Three things make the honest answer longer than the textbook ln(1/p)/λ:
//
// 1. λ is estimated, not known. Plugging n/T in is too optimistic for small n (a by-chance low
//    count shortens the window more than a high one lengthens it). We average over the rates that
//    could have produced the sample instead: with the prior p(λ) ∝ 1/λ the posterior is Gamma(n, T).
// 2. The rate may fall while the LB still routes to us: a rolling update's surge spreads new
//    connections over more targets (maxSurge 100% halves each pod's share). The window assumes the
//    node's rate stays above λ/κ (`rateDrop` κ, --lb-rate-drop, default 2).
// 3. A window is not tried once: every gap during the LB's lag is a chance to call it stopped. Over
//    the lag L (--lb-lag-max) the node sends about λL/κ connections, each followed by a gap.
//
// With x = T / (T + W/κ), averaging over the posterior:
//   P(no arrival in the first window)            = xⁿ
//   E[gaps ≥ W among the arrivals during L]       = (L/κ) · (n/T) · xⁿ⁺¹
// The false-stop probability for the termination is at most their sum, which we hold under the
// node's share q of the target p (q = p / nodes judged). The sum grows with x, so W is found by
// bisection on x. For large n, W → κ·(ln(1/q) + ln(λL/κ)) / λ.
//
// When the window this calls for is longer than --quiet-period-max, the traffic cannot support the
// target (too few arrivals to tell a stopped LB from a slow one): the node has no evidence, and the
// decision waits for the lag bound instead (see lag-clock.ts). Nothing is clamped to a ceiling.
import { ObserverConfigError } from '../errors.js'

/** The target probability of calling a still-active LB "stopped", per termination. */
export const FALSE_STOP_PROBABILITY = 1e-6

/** How much a node's arrival rate may fall while the LB still routes (surge). */
export const DEFAULT_RATE_DROP = 2

export interface EvidenceOptions {
  /** Floor of the window, ms. */
  minMs: number
  /** Longest window the evidence may call for, ms; beyond it the node has no evidence. */
  maxMs: number
  /** κ: the node's rate is assumed to stay above λ/κ while the LB routes. */
  rateDrop: number
  /** L: how long the LB may keep routing after deregistration, ms (--lb-lag-max). */
  lagMs: number
  /** The node's share of the false-stop target. */
  falseStopProbability: number
}

/** How one source's quiet window was chosen: JSON-safe, shown in GET /status. */
export type SourceWindow =
  | {
      basis: 'evidence'
      /** The window used, ms (at least the floor). */
      windowMs: number
      /** What the evidence called for before the floor, ms. */
      requiredMs: number
      /** Arrivals in the history span, and the span, ms. */
      sampleSize: number
      sampleSpanMs: number
      /** False-stop probability of this window over the whole lag (≤ the node's share). */
      falseStopBound: number
    }
  | {
      basis: 'fixed'
      windowMs: number
      sampleSize: number
      sampleSpanMs: number
    }
  | {
      basis: 'lag-bound'
      /** Why the evidence could not decide. */
      why:
        | 'no arrivals in the history span'
        | 'too few arrivals: the window needed exceeds --quiet-period-max'
        | 'first seen after termination began'
      sampleSize: number
      sampleSpanMs: number
      /** What the evidence would have called for, ms (when there was a sample). */
      requiredMs?: number
    }

/** Validates the options; throws ObserverConfigError. */
export function checkEvidenceOptions(o: EvidenceOptions): void {
  if (!(Number.isFinite(o.minMs) && o.minMs > 0 && Number.isFinite(o.maxMs) && o.maxMs >= o.minMs)) {
    throw new ObserverConfigError(
      'ERR_QUIET_PERIOD_BOUNDS',
      `quiet period bounds must satisfy 0 < min ≤ max, got min ${o.minMs} ms, max ${o.maxMs} ms`,
    )
  }
  if (!(o.falseStopProbability > 0 && o.falseStopProbability < 1)) {
    throw new ObserverConfigError('ERR_QUIET_PERIOD_PROBABILITY', `false-stop probability must be in (0, 1), got ${o.falseStopProbability}`)
  }
  if (!(Number.isFinite(o.rateDrop) && o.rateDrop >= 1))
    throw new ObserverConfigError('ERR_QUIET_PERIOD', `rate drop must be a number ≥ 1, got ${o.rateDrop}`)
  if (!(Number.isFinite(o.lagMs) && o.lagMs >= 0))
    throw new ObserverConfigError('ERR_QUIET_PERIOD', `lag bound must be a non-negative number of ms, got ${o.lagMs}`)
}

/**
 * The false-stop probability of a window of `windowMs` for a node that sent `n` connections over
 * `spanMs`, over the whole lag (see the header). Increasing in the window's x = T/(T+W/κ).
 */
export function falseStopBound(n: number, spanMs: number, windowMs: number, rateDrop: number, lagMs: number): number {
  const x = spanMs / (spanMs + windowMs / rateDrop)
  const first = Math.exp(n * Math.log(x))
  return first + (lagMs / rateDrop) * (n / spanMs) * first * x
}

/** The shortest window whose false-stop bound is at most q, ms (bisection on x, 60 steps). */
export function requiredWindowMs(n: number, spanMs: number, q: number, rateDrop: number, lagMs: number): number {
  let lo = 0 // x = 0: an infinitely long window, bound 0
  let hi = 1 // x = 1: a zero window, bound ≥ 1
  const bound = (x: number) => {
    const first = Math.exp(n * Math.log(x))
    return first + (lagMs / rateDrop) * (n / spanMs) * first * x
  }
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2
    if (bound(mid) <= q) lo = mid
    else hi = mid
  }
  return lo === 0 ? Number.POSITIVE_INFINITY : rateDrop * spanMs * (1 / lo - 1)
}

/** The window for a source with `n` arrivals over `spanMs` before termination. */
export function evidenceWindow(n: number, spanMs: number, o: EvidenceOptions): SourceWindow {
  if (!(n > 0) || !(spanMs > 0))
    return { basis: 'lag-bound', why: 'no arrivals in the history span', sampleSize: Math.max(0, n), sampleSpanMs: Math.max(0, spanMs) }
  const requiredMs = requiredWindowMs(n, spanMs, o.falseStopProbability, o.rateDrop, o.lagMs)
  if (!(requiredMs <= o.maxMs)) {
    return {
      basis: 'lag-bound',
      why: 'too few arrivals: the window needed exceeds --quiet-period-max',
      sampleSize: n,
      sampleSpanMs: spanMs,
      requiredMs,
    }
  }
  const windowMs = Math.max(o.minMs, requiredMs)
  return {
    basis: 'evidence',
    windowMs,
    requiredMs,
    sampleSize: n,
    sampleSpanMs: spanMs,
    falseStopBound: falseStopBound(n, spanMs, windowMs, o.rateDrop, o.lagMs),
  }
}

/** A configured fixed window (--quiet-period SECONDS) for a source that sent in the history span. */
export function fixedWindow(windowMs: number, n: number, spanMs: number): SourceWindow {
  if (!(Number.isFinite(windowMs) && windowMs >= 0)) {
    throw new ObserverConfigError('ERR_QUIET_PERIOD', `quiet period must be a non-negative number of ms or 'auto', got ${windowMs}`)
  }
  if (!(n > 0)) return { basis: 'lag-bound', why: 'no arrivals in the history span', sampleSize: 0, sampleSpanMs: spanMs }
  return { basis: 'fixed', windowMs, sampleSize: n, sampleSpanMs: spanMs }
}

/** The plug-in window ln(1/p) / (n/T), ms: the naive single-window estimate, kept for comparison. */
export function plugInWindowMs(n: number, spanMs: number, p = FALSE_STOP_PROBABILITY): number {
  return -Math.log(p) / (n / spanMs)
}
