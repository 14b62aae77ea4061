// `traffic`: the LB has stopped when no new client connection arrived for the quiet window,
// measured from max(termination start, last arrival). The window is fixed (`quietPeriod` seconds)
// or `auto`: derived once, at start(), from the arrivals seen in the history window before
// termination (see ../quiet-period.ts).
//
// No timer is touched per arrival: one timer fires at the earliest moment the window could have
// elapsed, looks at the last arrival, and either declares the LB stopped or re-arms for
// last arrival + window.

import type { TrafficObservations } from '../observations.js'
import { autoQuietWindow, DEFAULT_QUIET_PERIOD_BOUNDS, FALSE_STOP_PROBABILITY, fixedQuietWindow, type QuietPeriodBounds, type QuietWindow } from '../quiet-period.js'
import { silentLogger, viewSeconds, type DeregistrationObserver, type ObserverLogger } from './observer.js'
import { Satisfaction } from './satisfaction.js'

export interface TrafficObserverOptions {
  observations: TrafficObservations
  /** Quiet window in seconds, or 'auto'. Default 'auto'. */
  quietPeriod?: number | 'auto'
  /** Floor of the auto window, seconds (also its value without traffic history). Default 2. */
  quietPeriodMin?: number
  /** Ceiling of the auto window, seconds. Default 60. */
  quietPeriodMax?: number
  /** Auto: the probability, per quiet window, of calling a still-active LB stopped. Default 1e-6. */
  falseStopProbability?: number
  logger?: ObserverLogger
}

/** How long a passed window is re-checked after, so arrivals queued during a stall count. */
export const SETTLE_MS = 100

export class TrafficObserver implements DeregistrationObserver {
  readonly name = 'traffic' as const
  readonly #observations: TrafficObservations
  readonly #quietPeriod: number | 'auto'
  readonly #bounds: QuietPeriodBounds
  readonly #p: number
  readonly #log: ObserverLogger
  readonly #satisfaction = new Satisfaction()
  #startedAt: number | undefined
  #window: QuietWindow | undefined
  #arrivalsAtStart = 0
  #timer: NodeJS.Timeout | undefined
  #stopped = false

  constructor (opts: TrafficObserverOptions) {
    this.#observations = opts.observations
    this.#quietPeriod = opts.quietPeriod ?? 'auto'
    this.#bounds = {
      minSeconds: opts.quietPeriodMin ?? DEFAULT_QUIET_PERIOD_BOUNDS.minSeconds,
      maxSeconds: opts.quietPeriodMax ?? DEFAULT_QUIET_PERIOD_BOUNDS.maxSeconds
    }
    this.#p = opts.falseStopProbability ?? FALSE_STOP_PROBABILITY
    this.#log = opts.logger ?? silentLogger
    if (this.#quietPeriod === 'auto') autoQuietWindow(0, 0, this.#bounds, this.#p) // validates bounds and p
    else fixedQuietWindow(this.#quietPeriod) // validates
  }

  get satisfied (): boolean { return this.#satisfaction.satisfied }

  whenSatisfied (): Promise<void> { return this.#satisfaction.promise() }

  /** The quiet window chosen at start(), or undefined before. */
  get window (): QuietWindow | undefined { return this.#window }

  /** The window start() would choose if termination began at `at`. */
  windowAt (at: number): QuietWindow {
    if (this.#quietPeriod !== 'auto') return fixedQuietWindow(this.#quietPeriod)
    const sample = this.#observations.sampleBefore(at)
    return autoQuietWindow(sample.count, sample.spanMs / 1000, this.#bounds, this.#p)
  }

  start (startedAt: number): void {
    if (this.#startedAt !== undefined || this.#stopped) return
    this.#startedAt = startedAt
    this.#window = this.windowAt(startedAt)
    this.#arrivalsAtStart = this.#observations.totalArrivals
    this.#log.info({ observer: this.name, quietWindow: windowView(this.#window) }, `traffic observer: quiet window ${this.#window.seconds.toFixed(3)} s (${this.#window.derivation})`)
    this.#check()
  }

  /**
   * `settled`: the window had already passed at the previous check. A timer fires in the
   * event loop's timers phase, before the poll phase that accepts and reads connections
   * queued meanwhile; after a stall (a busy CPU, a GC pause) those are arrivals not yet
   * recorded. So the first expiry only re-checks SETTLE_MS later, after a few loop turns
   * have taken in the backlog; the window is declared quiet only if it still is then.
   */
  #check (settled = false): void {
    this.#timer = undefined
    if (this.#stopped || this.#startedAt === undefined || this.#window === undefined) return
    const now = performance.now()
    const anchor = this.#anchor()
    const windowMs = this.#window.seconds * 1000
    const remaining = anchor + windowMs - now
    if (remaining <= 0 && !settled) {
      this.#timer = setTimeout(() => this.#check(true), SETTLE_MS)
      return
    }
    if (remaining <= 0) {
      this.#satisfaction.set(now)
      this.#log.info({
        observer: this.name,
        quietForSeconds: (now - anchor) / 1000,
        arrivalsSinceStart: this.#observations.totalArrivals - this.#arrivalsAtStart
      }, 'traffic observer: no new connection for the quiet window')
      return
    }
    this.#timer = setTimeout(() => this.#check(), Math.ceil(remaining))
  }

  /** max(termination start, last arrival). */
  #anchor (): number {
    const last = this.#observations.lastArrivalAt
    const started = this.#startedAt ?? performance.now()
    return last !== undefined && last > started ? last : started
  }

  view (): Record<string, unknown> {
    const now = performance.now()
    const last = this.#observations.lastArrivalAt
    const sources = []
    for (const s of this.#observations.arrivalSources()) {
      sources.push({ source: s.source, connections: s.count, secondsSinceLast: viewSeconds(now - s.lastAt) })
    }
    const view: Record<string, unknown> = {
      satisfied: this.satisfied,
      quietWindow: this.#window !== undefined ? windowView(this.#window) : { ...windowView(this.windowAt(now)), preview: true },
      secondsSinceLastArrival: last === undefined ? null : viewSeconds(now - last),
      arrivals: this.#observations.totalArrivals,
      sources
    }
    if (this.#startedAt !== undefined && this.#window !== undefined) {
      const anchor = this.#anchor()
      view.arrivalsSinceStart = this.#observations.totalArrivals - this.#arrivalsAtStart
      view.lastArrivalAfterStartSeconds = last !== undefined && last > this.#startedAt ? viewSeconds(last - this.#startedAt) : null
      view.quietForSeconds = viewSeconds(now - anchor)
      view.remainingSeconds = this.satisfied ? 0 : viewSeconds(Math.max(0, anchor + this.#window.seconds * 1000 - now))
      const at = this.#satisfaction.at
      if (at !== undefined) view.satisfiedAfterSeconds = viewSeconds(at - this.#startedAt)
    }
    return view
  }

  stop (): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }
}

/** The window with seconds rounded to the millisecond and rates to 4 significant digits. */
function windowView (w: QuietWindow): Record<string, unknown> {
  const out: Record<string, unknown> = { ...w }
  for (const k of ['seconds', 'sampleSpanSeconds', 'unclampedSeconds'] as const) {
    const v = w[k]
    if (v !== undefined) out[k] = viewSeconds(v * 1000)
  }
  for (const k of ['ratePerSecond', 'conservativeRatePerSecond'] as const) {
    const v = w[k]
    if (v !== undefined) out[k] = Number(v.toPrecision(4))
  }
  return out
}
