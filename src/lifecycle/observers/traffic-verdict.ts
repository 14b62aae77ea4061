// The traffic observer's verdict as a pure function of what was judged at termination start, each
// source's activity, and the clock: table-tested without sockets or timers.
import type { SourceWindow } from '../quiet-period.js'

/** What start() decided from the history before termination. */
export interface Judged {
  /** All peers judged as one source. */
  pooled: boolean
  /** Why pooled or per source, for /status. */
  why: string
  /** The history span the windows were derived from, ms. */
  spanMs: number
  /** Source (or '(all peers)') → its window. */
  windows: Map<string, SourceWindow>
}

export interface SourceActivity {
  /** Newest arrival, request or accept of a connection still being classified (performance.now() ms), NaN if none. */
  lastActivityAt: number
  /** Connections accepted and not classified yet (shown; already counted in lastActivityAt). */
  pending: number
}

export interface SourceState extends SourceActivity {
  source: string
  window: SourceWindow
  quiet: boolean
  /** When this source will be quiet if nothing new happens (∞: waiting for deregistration). */
  quietAt: number
}

export interface SourceVerdict {
  quiet: boolean
  /** What the verdict rests on: the weakest of its sources. */
  basis: 'evidence' | 'fixed' | 'lag-bound'
  /** The earliest moment every source could be quiet (∞ while the lag deadline is unknown). */
  nextAt: number
  sources: SourceState[]
}

const NONE: SourceActivity = { lastActivityAt: Number.NaN, pending: 0 }
const LATE: SourceWindow = { basis: 'lag-bound', why: 'first seen after termination began', sampleSize: 0, sampleSpanMs: 0 }

/**
 * `lagDeadline`: deregistration + --lb-lag-max, undefined while deregistration is not known.
 * `afterDeadlineMs`: the quiet a source without evidence needs after activity past the deadline.
 */
export function judge(
  judged: Judged,
  activity: Map<string, SourceActivity>,
  now: number,
  startedAt: number,
  lagDeadline: number | undefined,
  afterDeadlineMs: number,
): SourceVerdict {
  const entries: Array<[string, SourceWindow, SourceActivity]> = []
  for (const [source, window] of judged.windows) entries.push([source, window, activity.get(source) ?? NONE])
  if (!judged.pooled) {
    for (const [source, a] of activity) {
      if (!judged.windows.has(source) && (a.lastActivityAt > startedAt || a.pending > 0)) entries.push([source, LATE, a])
    }
  }
  if (entries.length === 0)
    entries.push([
      '(no traffic)',
      { basis: 'lag-bound', why: 'no arrivals in the history span', sampleSize: 0, sampleSpanMs: judged.spanMs },
      NONE,
    ])

  let quiet = true
  let nextAt = Number.NEGATIVE_INFINITY
  let basis: SourceVerdict['basis'] = 'evidence'
  const sources: SourceState[] = []
  for (const [source, window, a] of entries) {
    const last = a.lastActivityAt
    let quietAt: number
    if (window.basis !== 'lag-bound') {
      quietAt = (last > startedAt ? last : startedAt) + window.windowMs
      if (window.basis === 'fixed' && basis === 'evidence') basis = 'fixed'
    } else {
      basis = 'lag-bound'
      if (lagDeadline === undefined) quietAt = Number.POSITIVE_INFINITY
      else if (last >= lagDeadline) quietAt = last + afterDeadlineMs
      else quietAt = Math.max(lagDeadline, startedAt)
    }
    const q = now >= quietAt
    if (!q) quiet = false
    if (quietAt > nextAt) nextAt = quietAt
    sources.push({ source, window, lastActivityAt: last, pending: a.pending, quiet: q, quietAt })
  }
  return { quiet, basis, nextAt, sources }
}
