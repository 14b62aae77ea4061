// `healthcheck`: the LB has stopped when its health checkers have gone silent. Each LB source
// (one per NLB node, i.e. per enabled AZ) probes at its own rhythm; we learn that rhythm as the
// median of the source's last 8 gaps between probes, and call the source silent once nothing came
// from it for `silenceMultiple` × that interval. Satisfied when every known source is silent.
//
// Whether the NLB keeps health-checking a draining target is unverified, so this observer is
// opt-in and its view reports what it saw either way: per source, probes seen (and how many after
// termination began), the learned interval and how long it has been silent.
//
// A source with fewer than `minGaps` gaps uses `defaultIntervalMs` (30 s, the NLB's default
// health-check interval; the Load Balancer Controller's default is 10 s, so 30 s errs long). Learned
// intervals are clamped to [minIntervalMs, maxIntervalMs] (default 1–300 s: the NLB's
// interval range is 5–300 s and several checkers may share one source address). With no source
// seen at all, the observer is satisfied after silenceMultiple × defaultIntervalMs from start.
// Silence is measured from the last probe, so a source that was already silent long enough when
// termination began counts as silent at once. The verdict is live: a probe after "silent" revokes
// it (looked for every second while satisfied). With several pod ports each (port, LB source) is a
// source of its own (./ports.ts): each target group's checker has its own rhythm.

import type { HealthCheckSource } from '../observations.js'
import { observedPorts, sourceKey, type Observed, type ObservedPort } from './ports.js'
import { ChangeListeners, silentLogger, viewSeconds, type DeregistrationObserver, type ObserverLogger } from './observer.js'
import { ObserverConfigError } from '../../errors.js'

export interface HealthcheckObserverOptions {
  /** One port's observations, or several ports' by name. */
  observations: Observed
  /** A source is silent after this many learned intervals without a probe. Default 3. */
  silenceMultiple?: number
  /** Interval assumed for a source with too few gaps, ms. Default 30 000. */
  defaultIntervalMs?: number
  /** Floor of the learned interval, ms. Default 1000. */
  minIntervalMs?: number
  /** Ceiling of the learned interval, ms. Default 300 000. */
  maxIntervalMs?: number
  /** Gaps needed before the learned interval replaces the default. Default 3. */
  minGaps?: number
  logger?: ObserverLogger
}

interface SourceVerdict {
  /** The source's name: the LB address, PORT/ADDRESS with several ports. */
  key: string
  source: HealthCheckSource
  learnedMs: number | undefined
  intervalMs: number
  thresholdMs: number
  silentForMs: number
  silent: boolean
}

export class HealthcheckObserver implements DeregistrationObserver {
  readonly name = 'healthcheck' as const
  readonly #ports: readonly ObservedPort[]
  readonly #multiple: number
  readonly #defaultMs: number
  readonly #minMs: number
  readonly #maxMs: number
  readonly #minGaps: number
  readonly #log: ObserverLogger
  readonly #listeners = new ChangeListeners()
  #satisfiedAt: number | undefined
  #startedAt: number | undefined
  #countsAtStart = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined
  /** The newest probe at the previous look (a probe between two looks is a change unseen). */
  #probeAtLastLook: number | undefined
  #stopped = false

  constructor(opts: HealthcheckObserverOptions) {
    this.#ports = observedPorts(opts.observations)
    this.#multiple = opts.silenceMultiple ?? 3
    const def = opts.defaultIntervalMs ?? 30_000
    const min = opts.minIntervalMs ?? 1000
    const max = opts.maxIntervalMs ?? 300_000
    this.#minGaps = opts.minGaps ?? 3
    if (!(Number.isFinite(this.#multiple) && this.#multiple > 0))
      throw new ObserverConfigError(
        'ERR_HEALTHCHECK_OPTION',
        `healthcheck silence multiple must be a positive number, got ${this.#multiple}`,
      )
    if (!(Number.isFinite(min) && min > 0 && Number.isFinite(max) && max >= min))
      throw new ObserverConfigError(
        'ERR_HEALTHCHECK_OPTION',
        `healthcheck interval bounds must satisfy 0 < min ≤ max, got ${min}–${max} ms`,
      )
    if (!(Number.isFinite(def) && def > 0))
      throw new ObserverConfigError('ERR_HEALTHCHECK_OPTION', `healthcheck default interval must be a positive number of ms, got ${def}`)
    if (!(Number.isInteger(this.#minGaps) && this.#minGaps >= 1))
      throw new ObserverConfigError('ERR_HEALTHCHECK_OPTION', `healthcheck minGaps must be an integer ≥ 1, got ${this.#minGaps}`)
    this.#defaultMs = def
    this.#minMs = min
    this.#maxMs = max
    this.#log = opts.logger ?? silentLogger
  }

  get satisfied(): boolean {
    return this.#startedAt !== undefined && this.#nextAt(performance.now()) === Number.POSITIVE_INFINITY
  }

  onChange(fn: () => void): void {
    this.#listeners.add(fn)
  }

  start(startedAt: number): void {
    if (this.#startedAt !== undefined || this.#stopped) return
    this.#startedAt = startedAt
    for (const [key, s] of this.#sources()) this.#countsAtStart.set(key, s.count)
    this.#log.info(
      { observer: this.name, sources: this.#verdicts(performance.now()).map(verdictView) },
      'healthcheck observer: waiting for the LB health checkers to go silent',
    )
    this.#check()
  }

  #verdicts(now: number): SourceVerdict[] {
    const out: SourceVerdict[] = []
    for (const [key, source] of this.#sources()) {
      const learnedMs = source.medianGapMs(this.#minGaps)
      const intervalMs = learnedMs === undefined ? this.#defaultMs : Math.min(this.#maxMs, Math.max(this.#minMs, learnedMs))
      const thresholdMs = this.#multiple * intervalMs
      const silentForMs = now - source.lastAt
      out.push({ key, source, learnedMs, intervalMs, thresholdMs, silentForMs, silent: silentForMs >= thresholdMs })
    }
    return out
  }

  /** When every source will be silent (+∞: now; a later time: not yet). */
  #nextAt(now: number): number {
    const verdicts = this.#verdicts(now)
    let nextAt = Number.POSITIVE_INFINITY
    if (verdicts.length === 0) {
      const deadline = this.#startedAt! + this.#multiple * this.#defaultMs
      if (now < deadline) nextAt = deadline
    }
    for (const v of verdicts) {
      if (!v.silent) nextAt = Math.min(nextAt, v.source.lastAt + v.thresholdMs)
    }
    return nextAt
  }

  #check(): void {
    this.#timer = undefined
    if (this.#stopped || this.#startedAt === undefined) return
    const now = performance.now()
    const nextAt = this.#nextAt(now)
    const silent = nextAt === Number.POSITIVE_INFINITY
    const probe = this.#lastProbeAt()
    // Silent at both looks with a probe in between: the verdict was false meanwhile (the decision
    // may have read it so) and is true again: announce it, or nothing tells the decision.
    const unseenChange = silent && this.#satisfiedAt !== undefined && probe !== this.#probeAtLastLook
    this.#probeAtLastLook = probe
    if (unseenChange) {
      this.#log.info(
        { observer: this.name, sources: this.#verdicts(now).map(verdictView) },
        'healthcheck observer: a probe came and every source went silent again between two looks',
      )
      this.#listeners.emit()
    } else if (silent !== (this.#satisfiedAt !== undefined)) {
      this.#satisfiedAt = silent ? now : undefined
      const verdicts = this.#verdicts(now)
      this.#log.info(
        { observer: this.name, sources: verdicts.map(verdictView) },
        !silent
          ? 'healthcheck observer: a health-check probe came back; not silent any more'
          : verdicts.length === 0
            ? 'healthcheck observer: no health-check probe ever seen; waited the default silence'
            : 'healthcheck observer: every LB health-check source has gone silent',
      )
      this.#listeners.emit()
    }
    // While silent, look every second for a probe that revokes it.
    this.#timer = setTimeout(() => this.#check(), silent ? 1000 : Math.max(1, Math.ceil(nextAt - now)))
  }

  summary(): Record<string, unknown> {
    let n = 0
    for (const p of this.#ports) n += p.observations.healthCheckSourceCount
    return { healthCheckSources: n }
  }

  view(): Record<string, unknown> {
    const now = performance.now()
    const started = this.#startedAt
    const view: Record<string, unknown> = {
      satisfied: this.#satisfiedAt !== undefined,
      silenceMultiple: this.#multiple,
      defaultIntervalSeconds: this.#defaultMs / 1000,
      sources: this.#verdicts(now).map((v) => {
        const sv = verdictView(v)
        if (started !== undefined) {
          sv.probesAfterStart = v.source.count - (this.#countsAtStart.get(v.key) ?? 0)
          sv.lastProbeAfterStartSeconds = v.source.lastAt > started ? viewSeconds(v.source.lastAt - started) : null
        }
        return sv
      }),
    }
    const at = this.#satisfiedAt
    if (at !== undefined && started !== undefined) view.satisfiedAfterSeconds = viewSeconds(at - started)
    return view
  }

  /** Every port's health-check sources, by their key. */
  *#sources(): Generator<[string, HealthCheckSource]> {
    for (const port of this.#ports)
      for (const source of port.observations.healthCheckSources()) yield [sourceKey(this.#ports, port, source.source), source]
  }

  /** The newest probe on any port, or undefined if none. */
  #lastProbeAt(): number | undefined {
    let last: number | undefined
    for (const p of this.#ports) {
      const at = p.observations.lastHealthCheckAt
      if (at !== undefined && (last === undefined || at > last)) last = at
    }
    return last
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }
}

function verdictView(v: SourceVerdict): Record<string, unknown> {
  return {
    source: v.key,
    probes: v.source.count,
    emptyProbes: v.source.empty,
    localProbes: v.source.local,
    learnedIntervalSeconds: v.learnedMs === undefined ? null : viewSeconds(v.learnedMs),
    intervalSeconds: viewSeconds(v.intervalMs),
    intervalFrom: v.learnedMs === undefined ? 'default' : 'learned',
    silentForSeconds: viewSeconds(v.silentForMs),
    silenceThresholdSeconds: viewSeconds(v.thresholdMs),
    silent: v.silent,
  }
}
