// The traffic observer's views for /status and its log lines: each source's window, verdict and
// timings in seconds.
import { performance } from 'node:perf_hooks'
import type { SourceWindow } from '../quiet-period.js'
import { viewSeconds } from './observer.js'
import type { SourceVerdict } from './traffic-verdict.js'

export function windowView(w: SourceWindow): Record<string, unknown> {
  const out: Record<string, unknown> = { basis: w.basis, sampleSize: w.sampleSize, sampleSpanSeconds: viewSeconds(w.sampleSpanMs) }
  if (w.sampleSpanMs > 0 && w.sampleSize > 0) out.ratePerSecond = Number((w.sampleSize / (w.sampleSpanMs / 1000)).toPrecision(4))
  if ('windowMs' in w) out.windowSeconds = viewSeconds(w.windowMs)
  if ('requiredMs' in w && w.requiredMs !== undefined)
    out.requiredSeconds = Number.isFinite(w.requiredMs) ? viewSeconds(w.requiredMs) : null
  if (w.basis === 'evidence') out.falseStopBound = Number(w.falseStopBound.toPrecision(2))
  if (w.basis === 'lag-bound') out.why = w.why
  return out
}

export function sourceView(s: SourceVerdict['sources'][number]): Record<string, unknown> {
  return {
    source: s.source,
    ...windowView(s.window),
    quiet: s.quiet,
    pending: s.pending,
    secondsSinceActivity: Number.isNaN(s.lastActivityAt) ? null : viewSeconds(performance.now() - s.lastActivityAt),
    remainingSeconds: s.quiet ? 0 : Number.isFinite(s.quietAt) ? viewSeconds(Math.max(0, s.quietAt - performance.now())) : null,
  }
}
