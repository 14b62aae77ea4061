// What the ingress saw, kept for the deregistration observers.
//
// Written on the hot path (every accepted connection) and read rarely (when termination starts,
// on GET /status, on observer timers). The write methods allocate nothing: arrival times go into a
// preallocated Float64Array ring, per-source records are created only the first time a source
// appears, and each health-check source keeps its recent probe gaps in its own small typed array.
//
// All times are `performance.now()` milliseconds.

import { ObserverConfigError } from '../errors.js'

export type HealthCheckKind = 'empty' /* TCP probe: connected, sent nothing, closed */ | 'local' /* PROXY v2 LOCAL header */

export interface TrafficObservationsOptions {
  /** How far back arrivals are kept for rate estimation, ms (--arrival-history). Default 60_000. */
  historyMs?: number
  /**
   * Capacity of the arrival-time ring. When more arrivals than this fall inside `historyMs`, the
   * rate is estimated from the newest `arrivalCapacity` arrivals only (that is plenty of sample).
   * Default 8192 (64 KiB).
   */
  arrivalCapacity?: number
  /**
   * At most this many distinct sources are tracked by name (for client arrivals and, separately,
   * for health checks); further sources are folded into one extra record named `OVERFLOW_SOURCE`.
   * Direct (non-PROXY) connections use the client address as source, so this bounds memory.
   * Default 64.
   */
  maxSources?: number
  /** When observation began (the listener opened), ms. Default `performance.now()`. */
  since?: number
}

/** Name of the record that aggregates sources beyond `maxSources`. */
export const OVERFLOW_SOURCE = '(other)'

/** Gaps remembered per health-check source for the learned interval. */
export const HEALTH_CHECK_GAPS_KEPT = 8

/** Client arrivals from one source (an NLB node, or a direct client). */
export class ArrivalSource {
  readonly source: string
  /** Index in the arrival ring's source column. */
  readonly id: number
  count = 0
  /** Connections accepted from this source and not classified yet (client or health check). */
  pending = 0
  /** Newest accept from this source, NaN until the first. */
  lastAcceptedAt = Number.NaN
  // Doubles from the start so V8 keeps them unboxed (see HealthCheckSource).
  firstAt = Number.NaN
  /** Newest client arrival (its accept time); NaN until the first. */
  lastAt = Number.NaN
  /** Newest arrival or request on an open connection; NaN until the first. */
  lastActivityAt = Number.NaN

  constructor(source: string, id: number) {
    this.source = source
    this.id = id
  }
}

/** Health-check probes from one source (an NLB node's health checker). */
export class HealthCheckSource {
  readonly source: string
  count = 0
  empty = 0
  local = 0
  // Initialised with a double so V8 stores these fields unboxed: a field that first held
  // `undefined` would box every later write (an allocation per probe).
  firstAt = Number.NaN
  lastAt = Number.NaN
  /** Recent gaps between consecutive probes, ms; a ring of `HEALTH_CHECK_GAPS_KEPT`. */
  readonly gaps = new Float64Array(HEALTH_CHECK_GAPS_KEPT)
  /** How many gaps were ever recorded (the ring holds min(gapCount, HEALTH_CHECK_GAPS_KEPT)). */
  gapCount = 0

  constructor(source: string, now: number) {
    this.source = source
    this.firstAt = now
    this.lastAt = now
  }

  /** Median of the remembered gaps in ms, or undefined with fewer than `minGaps` gaps. */
  medianGapMs(minGaps = 1): number | undefined {
    const n = Math.min(this.gapCount, HEALTH_CHECK_GAPS_KEPT)
    if (n < Math.max(1, minGaps)) return undefined
    const sorted = Array.from(this.gaps.subarray(0, n)).sort((a, b) => a - b)
    const mid = n >> 1
    return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  }
}

/** Arrivals counted over an exposure span: the input of the quiet-period estimate. */
export interface ArrivalSample {
  /** Client arrivals counted. */
  count: number
  /** Length of the span they were counted over, ms. */
  spanMs: number
  /** True when the ring overflowed and the span is shorter than the history window. */
  truncated: boolean
  /** The same arrivals by source (only sources with at least one arrival in the span). */
  bySource: Map<string, number>
}

export class TrafficObservations {
  readonly historyMs: number
  readonly since: number
  readonly maxSources: number

  readonly #times: Float64Array
  /** The ArrivalSource id of each entry of #times. */
  readonly #sourceIds: Uint16Array
  #head = 0 // index of the next write
  #size = 0 // valid entries (≤ capacity)
  #total = 0
  #lastArrivalAt = Number.NEGATIVE_INFINITY

  readonly #arrivalSources = new Map<string, ArrivalSource>()
  readonly #sourcesById: ArrivalSource[] = []
  #pending = 0
  /** One-shot: called at the next arrival or request (the traffic observer's revocation watch). */
  #onActivity: (() => void) | undefined
  readonly #healthSources = new Map<string, HealthCheckSource>()
  #lastHealthCheckAt = Number.NEGATIVE_INFINITY

  constructor(opts: TrafficObservationsOptions = {}) {
    const historyMs = opts.historyMs ?? 60_000
    const capacity = opts.arrivalCapacity ?? 8192
    const maxSources = opts.maxSources ?? 64
    if (!(historyMs > 0) || !Number.isFinite(historyMs))
      throw new ObserverConfigError('ERR_OBSERVATIONS_OPTION', `historyMs must be a positive number of ms, got ${historyMs}`)
    if (!Number.isInteger(capacity) || capacity < 2)
      throw new ObserverConfigError('ERR_OBSERVATIONS_OPTION', `arrivalCapacity must be an integer ≥ 2, got ${capacity}`)
    if (!Number.isInteger(maxSources) || maxSources < 1 || maxSources > 60_000)
      throw new ObserverConfigError('ERR_OBSERVATIONS_OPTION', `maxSources must be an integer from 1 to 60000, got ${maxSources}`)
    this.historyMs = historyMs
    this.maxSources = maxSources
    this.since = opts.since ?? performance.now()
    this.#times = new Float64Array(capacity)
    this.#sourceIds = new Uint16Array(capacity)
  }

  // ---- hot path ---------------------------------------------------------------------------

  /**
   * A connection from `source` was accepted at `now`: until it is classified it may be a client,
   * so it counts as activity from its accept time (see connectionClassified).
   */
  connectionAccepted(source: string, now: number): ArrivalSource {
    const rec = this.#arrivalSources.get(source) ?? this.#newArrivalSource(source)
    if (!(now <= rec.lastAcceptedAt)) rec.lastAcceptedAt = now
    rec.pending++
    this.#pending++
    this.#notify()
    return rec
  }

  /**
   * The connection accepted from `rec` at `acceptedAt` is classified: a client (counted as an
   * arrival at its accept time) or not (a health check or a refused connection: taken back out).
   */
  connectionClassified(rec: ArrivalSource, acceptedAt: number, client: boolean): void {
    rec.pending--
    this.#pending--
    if (client) this.clientArrived(rec, acceptedAt)
  }

  /** A new client connection (with a PROXY header, or a direct one) arrived from `rec` at `now`. */
  clientArrived(rec: ArrivalSource | string, now: number): void {
    if (typeof rec === 'string') rec = this.#arrivalSources.get(rec) ?? this.#newArrivalSource(rec)
    const times = this.#times
    times[this.#head] = now
    this.#sourceIds[this.#head] = rec.id
    this.#head = this.#head + 1 === times.length ? 0 : this.#head + 1
    if (this.#size < times.length) this.#size++
    this.#total++
    if (now > this.#lastArrivalAt) this.#lastArrivalAt = now
    rec.count++
    if (!(now <= rec.lastAt)) rec.lastAt = now
    if (Number.isNaN(rec.firstAt)) rec.firstAt = now
    this.#activity(rec, now)
  }

  /** A request arrived on an open connection from `source` (http mode): activity, not an arrival. */
  requestSeen(source: string, now: number): void {
    // A request comes on an accepted connection: a source not tracked by name was folded into
    // the overflow record when it was accepted.
    const rec = this.#arrivalSources.get(source) ?? this.#arrivalSources.get(OVERFLOW_SOURCE)
    if (rec !== undefined) this.#activity(rec, now)
  }

  #activity(rec: ArrivalSource, now: number): void {
    if (!(now <= rec.lastActivityAt)) rec.lastActivityAt = now
    this.#notify()
  }

  #notify(): void {
    const watch = this.#onActivity
    if (watch !== undefined) {
      this.#onActivity = undefined
      watch()
    }
  }

  /** An LB health-check probe arrived from `source`. */
  healthCheckSeen(source: string, kind: HealthCheckKind, now: number): void {
    let rec = this.#healthSources.get(source)
    if (rec === undefined) rec = this.#newHealthSource(source, now)
    else {
      const gap = now - rec.lastAt
      if (gap >= 0) {
        rec.gaps[rec.gapCount % HEALTH_CHECK_GAPS_KEPT] = gap
        rec.gapCount++
      }
    }
    rec.count++
    if (kind === 'empty') rec.empty++
    else rec.local++
    if (now > rec.lastAt) rec.lastAt = now
    if (now > this.#lastHealthCheckAt) this.#lastHealthCheckAt = now
  }

  // ---- read side (not on the hot path) ----------------------------------------------------

  /** Client arrivals ever recorded. */
  get totalArrivals(): number {
    return this.#total
  }

  /** Connections accepted and not classified yet, from every source. */
  get pendingConnections(): number {
    return this.#pending
  }

  /** Call `fn` once, at the next accepted connection, arrival or request (replaces a previous watch). */
  watchActivity(fn: () => void): void {
    this.#onActivity = fn
  }

  /** Drop the activity watch. */
  unwatchActivity(): void {
    this.#onActivity = undefined
  }

  /** Time of the newest client arrival, or undefined if none. */
  get lastArrivalAt(): number | undefined {
    return this.#total === 0 ? undefined : this.#lastArrivalAt
  }

  /** Time of the newest health-check probe from any source, or undefined if none. */
  get lastHealthCheckAt(): number | undefined {
    return this.#healthSources.size === 0 ? undefined : this.#lastHealthCheckAt
  }

  /** Client arrivals with `from < t ≤ to`, counted from the ring (so at most its capacity). */
  arrivalsBetween(from: number, to: number): number {
    let n = 0
    this.#forEachNewestFirst((t) => {
      if (t <= from) return false
      if (t <= to) n++
      return true
    })
    return n
  }

  /**
   * The arrivals seen in the history window before `at` and the span they cover: the span starts
   * at max(at − historyMs, since) — nothing was observed before `since` — or, when more arrivals
   * than the ring holds fell in the window, at the oldest arrival still held.
   */
  sampleBefore(at: number): ArrivalSample {
    const windowStart = Math.max(at - this.historyMs, this.since)
    let count = 0
    let scanned = 0
    let oldest = Number.POSITIVE_INFINITY
    const perId = new Map<number, number>()
    this.#forEachNewestFirst((t, id) => {
      if (t <= windowStart) return false
      scanned++
      oldest = t
      if (t <= at) {
        count++
        perId.set(id, (perId.get(id) ?? 0) + 1)
      }
      return true
    })
    const bySource = new Map<string, number>()
    for (const [id, n] of perId) bySource.set(this.#sourcesById[id]!.source, n)
    // The ring is full and even its oldest entry lies inside the window: older arrivals in the
    // window were overwritten, so count only over the span the ring still covers.
    const truncated = this.#size === this.#times.length && scanned === this.#size
    const start = truncated ? Math.min(oldest, at) : windowStart
    return { count, spanMs: Math.max(0, at - start), truncated, bySource }
  }

  /** Per-source client arrival records (live objects; do not mutate). */
  arrivalSources(): IterableIterator<ArrivalSource> {
    return this.#arrivalSources.values()
  }

  /** The record of `source`, if it was ever seen. */
  arrivalSource(source: string): ArrivalSource | undefined {
    return this.#arrivalSources.get(source)
  }

  /** Per-source health-check records (live objects; do not mutate). */
  healthCheckSources(): IterableIterator<HealthCheckSource> {
    return this.#healthSources.values()
  }

  /** Number of distinct health-check source records. */
  get healthCheckSourceCount(): number {
    return this.#healthSources.size
  }

  // ---- internals --------------------------------------------------------------------------

  #forEachNewestFirst(fn: (t: number, sourceId: number) => boolean): void {
    const times = this.#times
    const ids = this.#sourceIds
    let i = this.#head
    for (let k = 0; k < this.#size; k++) {
      i = i === 0 ? times.length - 1 : i - 1
      if (!fn(times[i]!, ids[i]!)) return
    }
  }

  #newArrivalSource(source: string): ArrivalSource {
    return boundedRecord(this.#arrivalSources, this.maxSources, source, (name) => {
      const rec = new ArrivalSource(name, this.#sourcesById.length)
      this.#sourcesById.push(rec)
      return rec
    })
  }

  #newHealthSource(source: string, now: number): HealthCheckSource {
    return boundedRecord(this.#healthSources, this.maxSources, source, (name) => new HealthCheckSource(name, now))
  }
}

/**
 * A new per-source record in `map`, or, once `max` sources are tracked, the shared
 * OVERFLOW_SOURCE record (created on first need), so memory stays bounded.
 */
function boundedRecord<R>(map: Map<string, R>, max: number, source: string, make: (source: string) => R): R {
  if (map.size >= max) {
    let other = map.get(OVERFLOW_SOURCE)
    if (other === undefined) {
      other = make(OVERFLOW_SOURCE)
      map.set(OVERFLOW_SOURCE, other)
    }
    return other
  }
  const rec = make(source)
  map.set(source, rec)
  return rec
}
