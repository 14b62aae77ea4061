// Per-second buckets of what the load saw, plus gauges sampled by the harness (healthy
// targets, pods ready, …), for the progress lines, the table and the chart.
export interface Bucket {
  ok: number
  non2xx: number
  resets: number
  timeouts: number
  gauges: Record<string, number>
}

export type Outcome = 'ok' | 'non2xx' | 'resets' | 'timeouts'

export class Timeline {
  readonly start = Date.now()
  readonly buckets: Bucket[] = []
  readonly marks: Array<{ at: number; label: string }> = []

  second(at = Date.now()): number {
    return Math.max(0, Math.floor((at - this.start) / 1000))
  }

  bucket(index: number): Bucket {
    while (this.buckets.length <= index) this.buckets.push({ ok: 0, non2xx: 0, resets: 0, timeouts: 0, gauges: {} })
    return this.buckets[index]!
  }

  count(outcome: Outcome, at = Date.now()): void {
    this.bucket(this.second(at))[outcome]++
  }

  gauge(name: string, value: number, at = Date.now()): void {
    this.bucket(this.second(at)).gauges[name] = value
  }

  /** A labelled moment (rollout started, finished), seconds since start. */
  mark(label: string, at = Date.now()): void {
    this.marks.push({ at: (at - this.start) / 1000, label })
  }

  elapsedSeconds(): number {
    return (Date.now() - this.start) / 1000
  }
}
