// `traffic`: the LB has stopped when every node that was sending has been quiet for its own
// window. A node is an immediate peer address (with PROXY protocol, the LB node; one per AZ). Each
// is judged by its own arrival rate before termination (../quiet-period.ts): a node's window counts
// from max(termination start, its last activity), where activity is a new connection (counted at
// accept) or, in http mode, a request on an open connection. A connection accepted and not yet
// classified counts from its accept time too (it may be a client); classified as a health check, it
// is taken back out. Verdicts are computed live: a new arrival revokes "quiet" and the node must
// earn a whole window again.
//
// A node without evidence (no arrivals in the history span, too few to support the false-stop
// target within --quiet-period-max, or first seen after termination began) is quiet only once the
// lag bound passed (../lag-clock.ts) with no activity since; activity after the bound (the LB lags
// longer than assumed) needs a whole window after it (--quiet-period if fixed, else
// --quiet-period-max). With no node at all, the
// observer waits for the lag bound: no evidence is not evidence of absence.
//
// `pooled` judges all peers as one source: for client IP preservation, or peers that are many
// clients rather than a few LB nodes (`auto` pools beyond MAX_PER_SOURCE peers).
//
// Several pod ports (--ports): every (port, peer) is a source of its own (./ports.ts), and pooling
// is per port, so each port's target group is judged by its own traffic; the false-stop target is
// shared over all the sources of all the ports.
import { performance } from 'node:perf_hooks'
import type { ArrivalSource } from '../observations.js'
import { OVERFLOW_SOURCE } from '../observations.js'
import {
  observedPorts,
  portOfKey,
  sourceKey,
  totalArrivals,
  unwatchActivity,
  watchActivity,
  type Observed,
  type ObservedPort,
} from './ports.js'
import type { LagClock } from '../lag-clock.js'
import {
  checkEvidenceOptions,
  evidenceWindow,
  fixedWindow,
  DEFAULT_RATE_DROP,
  FALSE_STOP_PROBABILITY,
  type EvidenceOptions,
  type SourceWindow,
} from '../quiet-period.js'
import { ChangeListeners, silentLogger, viewSeconds, type DeregistrationObserver, type ObserverLogger } from './observer.js'
import { judge, type Judged, type SourceVerdict } from './traffic-verdict.js'
import { sourceView, windowView } from './traffic-view.js'

export type SourcesMode = 'auto' | 'per-source' | 'pooled'

/** `auto` judges each peer on its own up to this many peers in the history span; more are pooled. */
export const MAX_PER_SOURCE = 16

export interface TrafficObserverOptions {
  /** What the ingress saw: one port's observations, or several ports' by name. */
  observations: Observed
  lagClock: LagClock
  /** A fixed window in ms, or 'auto' (from each node's rate). Default 'auto'. */
  quietPeriodMs?: number | 'auto'
  /** Floor of the auto window, ms. Default 2000. */
  quietPeriodMinMs?: number
  /** Longest window evidence may call for, ms; beyond it a node has no evidence. Default 60 000. */
  quietPeriodMaxMs?: number
  /** κ (--lb-rate-drop). Default 2. */
  rateDrop?: number
  /** Target false-stop probability per termination. Default 1e-6. */
  falseStopProbability?: number
  sources?: SourcesMode
  logger?: ObserverLogger
}

/** How soon a verdict held back by a connection being classified is looked at again. */
const PENDING_RECHECK_MS = 50

export class TrafficObserver implements DeregistrationObserver {
  readonly name = 'traffic' as const
  readonly #ports: readonly ObservedPort[]
  readonly #lagClock: LagClock
  readonly #quietPeriodMs: number | 'auto'
  readonly #evidence: Omit<EvidenceOptions, 'lagMs' | 'falseStopProbability'>
  readonly #p: number
  readonly #mode: SourcesMode
  readonly #log: ObserverLogger
  readonly #listeners = new ChangeListeners()
  #startedAt: number | undefined
  #judged: Judged | undefined
  #arrivalsAtStart = 0
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  #wasSatisfied = false
  /** Quiet was lost to a connection still being classified: a revocation if it is a client. */
  #heldByPending = false
  #revocations = 0
  /** The ports judged as one pool each, at termination start. */
  #pooledPorts = new Set<ObservedPort>()

  constructor(opts: TrafficObserverOptions) {
    this.#ports = observedPorts(opts.observations)
    this.#lagClock = opts.lagClock
    this.#quietPeriodMs = opts.quietPeriodMs ?? 'auto'
    this.#evidence = {
      minMs: opts.quietPeriodMinMs ?? 2000,
      maxMs: opts.quietPeriodMaxMs ?? 60_000,
      rateDrop: opts.rateDrop ?? DEFAULT_RATE_DROP,
    }
    this.#p = opts.falseStopProbability ?? FALSE_STOP_PROBABILITY
    this.#mode = opts.sources ?? 'auto'
    this.#log = opts.logger ?? silentLogger
    checkEvidenceOptions({ ...this.#evidence, lagMs: opts.lagClock.lagMs, falseStopProbability: this.#p })
    if (this.#quietPeriodMs !== 'auto') fixedWindow(this.#quietPeriodMs, 1, 1) // validates
    opts.lagClock.onChange(() => this.#check())
  }

  get satisfied(): boolean {
    return this.#verdict(performance.now()).quiet
  }

  onChange(fn: () => void): void {
    this.#listeners.add(fn)
  }

  /** How many times "quiet" was revoked by a new arrival or request. */
  get revocations(): number {
    return this.#revocations
  }

  /** The windows start() would choose if termination began at `at`: each node's evidence. */
  judgeAt(at: number): Judged {
    return this.#judgeAt(at).judged
  }

  #judgeAt(at: number): { judged: Judged; pooledPorts: Set<ObservedPort> } {
    const pooledPorts = new Set<ObservedPort>()
    const groups: Array<[string, number, number]> = []
    const whys: string[] = []
    let allPooled = true
    let spanMs = 0
    for (const port of this.#ports) {
      const sample = port.observations.sampleBefore(at)
      const named = [...sample.bySource.keys()]
      const pooled =
        this.#mode === 'pooled' || (this.#mode === 'auto' && (named.length > MAX_PER_SOURCE || named.includes(OVERFLOW_SOURCE)))
      const why =
        this.#mode !== 'auto'
          ? `--lb-sources ${this.#mode}`
          : pooled
            ? `more than ${MAX_PER_SOURCE} peers sent in the history span: they are clients, not LB nodes`
            : `${named.length} peer(s) sent in the history span: each is an LB node`
      whys.push(this.#ports.length === 1 ? why : `port ${port.name}: ${why}`)
      if (pooled) pooledPorts.add(port)
      else allPooled = false
      spanMs = Math.max(spanMs, sample.spanMs)
      if (pooled) groups.push([sourceKey(this.#ports, port, POOL), sample.count, sample.spanMs])
      else for (const [source, n] of sample.bySource) groups.push([sourceKey(this.#ports, port, source), n, sample.spanMs])
    }
    const share = this.#p / Math.max(1, groups.length)
    const windows = new Map<string, SourceWindow>()
    for (const [source, n, span] of groups) {
      windows.set(
        source,
        this.#quietPeriodMs === 'auto'
          ? evidenceWindow(n, span, { ...this.#evidence, lagMs: this.#lagClock.lagMs, falseStopProbability: share })
          : fixedWindow(this.#quietPeriodMs, n, span),
      )
    }
    return { judged: { pooled: allPooled, why: whys.join('; '), spanMs, windows }, pooledPorts }
  }

  start(startedAt: number): void {
    if (this.#startedAt !== undefined || this.#stopped) return
    this.#startedAt = startedAt
    ;({ judged: this.#judged, pooledPorts: this.#pooledPorts } = this.#judgeAt(startedAt))
    this.#arrivalsAtStart = totalArrivals(this.#ports)
    const v = this.#verdict(startedAt)
    this.#log.info(
      {
        observer: this.name,
        sourcesJudged: this.#judged.pooled ? 'pooled' : 'per-source',
        why: this.#judged.why,
        basis: v.basis,
        sources: v.sources.map(this.#sourceView),
      },
      `traffic observer: ${v.sources.length} source(s) judged ${this.#judged.pooled ? 'as one pool' : 'each by its own rate'}; basis ${v.basis}`,
    )
    this.#check()
  }

  #verdict(now: number): SourceVerdict {
    if (this.#startedAt === undefined || this.#judged === undefined)
      return { quiet: false, basis: 'lag-bound', nextAt: Number.POSITIVE_INFINITY, sources: [] }
    // Activity past the lag deadline (the LB lags longer than assumed) needs a whole window after
    // it: the configured one, or the longest auto window.
    const afterDeadlineMs = this.#quietPeriodMs === 'auto' ? this.#evidence.maxMs : this.#quietPeriodMs
    return judge(this.#judged, this.#activity(), now, this.#startedAt, this.#lagClock.deadline, afterDeadlineMs)
  }

  /** Each source's last activity and pending count (a pooled port: one entry over its peers). */
  #activity(): Map<string, { lastActivityAt: number; pending: number }> {
    const out = new Map<string, { lastActivityAt: number; pending: number }>()
    for (const port of this.#ports) {
      const observations = port.observations
      if (this.#pooledPorts.has(port)) {
        let last = Number.NaN
        for (const rec of observations.arrivalSources()) {
          const a = activityOf(rec)
          if (!(a <= last)) last = a
        }
        out.set(sourceKey(this.#ports, port, POOL), { lastActivityAt: last, pending: observations.pendingConnections })
        continue
      }
      for (const rec of observations.arrivalSources())
        out.set(sourceKey(this.#ports, port, rec.source), { lastActivityAt: activityOf(rec), pending: rec.pending })
    }
    return out
  }

  /** Re-evaluate; tell the listeners when quiet begins or is revoked; arm the next look. */
  #check(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    unwatchActivity(this.#ports)
    if (this.#stopped || this.#startedAt === undefined) return
    const now = performance.now()
    const v = this.#verdict(now)
    if (this.#heldByPending && !v.quiet && v.sources.some((s) => !s.quiet && s.pending === 0)) {
      // What held quiet back turned out to be a client (or other activity came meanwhile).
      this.#heldByPending = false
      this.#revoked(v)
    }
    if (v.quiet) this.#heldByPending = false
    if (v.quiet !== this.#wasSatisfied) {
      this.#wasSatisfied = v.quiet
      if (v.quiet) {
        this.#log.info(
          {
            observer: this.name,
            basis: v.basis,
            arrivalsSinceStart: totalArrivals(this.#ports) - this.#arrivalsAtStart,
            sources: v.sources.map(this.#sourceView),
          },
          v.basis === 'lag-bound'
            ? 'traffic observer: the lag bound passed with no new connection since'
            : 'traffic observer: every LB node quiet for its window',
        )
      } else if (v.sources.some((s) => !s.quiet && s.pending === 0)) {
        this.#revoked(v)
      } else {
        // Counted as a revocation once classified a client (above); a health check is not one.
        this.#heldByPending = true
        this.#log.debug({ observer: this.name }, 'traffic observer: not quiet while a new connection is classified')
      }
      this.#listeners.emit()
    }
    if (v.quiet) {
      // Watch for the next arrival or request: it revokes quiet at once.
      watchActivity(this.#ports, () => this.#check())
      return
    }
    // A connection being classified is usually a health check, gone in a moment: look again soon.
    const at = v.sources.some((s) => !s.quiet && s.pending > 0) ? Math.min(v.nextAt, now + PENDING_RECHECK_MS) : v.nextAt
    if (Number.isFinite(at)) this.#timer = setTimeout(() => this.#check(), Math.max(1, Math.ceil(at - now)))
  }

  #revoked(v: SourceVerdict): void {
    this.#revocations++
    this.#log.info(
      { observer: this.name, sources: v.sources.filter((s) => !s.quiet).map(this.#sourceView) },
      'traffic observer: quiet revoked: new activity',
    )
  }

  summary(): Record<string, unknown> {
    const v = this.#verdict(performance.now())
    const bound = v.sources.reduce((sum, s) => sum + (s.window.basis === 'evidence' ? s.window.falseStopBound : 0), 0)
    return {
      basis: v.basis,
      sourcesJudged: this.#judged?.pooled === true ? 'pooled' : 'per-source',
      sources: v.sources.length,
      ...(v.basis === 'evidence' ? { falseStopBound: Number(bound.toPrecision(2)) } : {}),
      longestWindowSeconds: viewSeconds(Math.max(0, ...v.sources.map((s) => ('windowMs' in s.window ? s.window.windowMs : 0)))),
      revocations: this.#revocations,
    }
  }

  view(): Record<string, unknown> {
    const now = performance.now()
    const judged = this.#judged ?? this.judgeAt(now)
    const v = this.#startedAt === undefined ? undefined : this.#verdict(now)
    return {
      satisfied: v?.quiet ?? false,
      preview: this.#startedAt === undefined,
      sourcesJudged: judged.pooled ? 'pooled' : 'per-source',
      why: judged.why,
      historySeconds: viewSeconds(judged.spanMs),
      falseStopTarget: this.#p,
      rateDrop: this.#evidence.rateDrop,
      quietPeriod: this.#quietPeriodMs === 'auto' ? 'auto' : viewSeconds(this.#quietPeriodMs),
      basis: v?.basis ?? null,
      arrivals: totalArrivals(this.#ports),
      arrivalsSinceStart: this.#startedAt === undefined ? null : totalArrivals(this.#ports) - this.#arrivalsAtStart,
      revocations: this.#revocations,
      lagBound: this.#lagClock.view(now),
      sources:
        v !== undefined
          ? v.sources.map(this.#sourceView)
          : [...judged.windows].map(([source, window]) => ({ source, ...this.#portView(source), ...windowView(window) })),
      assumptions:
        "Poisson arrivals per LB node; a node's rate stays above 1/rateDrop of its rate before termination while the LB routes to us; the LB stops within lagBound.lagMaxSeconds of deregistration",
    }
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    unwatchActivity(this.#ports)
  }

  #portView(source: string): { port?: string } {
    const port = portOfKey(this.#ports, source)
    return port === undefined ? {} : { port }
  }

  readonly #sourceView = (s: SourceVerdict['sources'][number]): Record<string, unknown> => ({
    ...this.#portView(s.source),
    ...sourceView(s),
  })
}

/** The source a pooled port's peers are judged as. */
const POOL = '(all peers)'

/** A source's last activity; a connection still being classified counts from its accept time. */
function activityOf(rec: ArrivalSource): number {
  return rec.pending > 0 && !(rec.lastAcceptedAt <= rec.lastActivityAt) ? rec.lastAcceptedAt : rec.lastActivityAt
}
