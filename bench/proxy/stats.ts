// Latency samples (µs) and their percentiles: exact (sorted), small enough at bench scale.
export class Samples {
  #values = new Uint32Array(1 << 16)
  #n = 0

  get count(): number {
    return this.#n
  }

  add(micros: number): void {
    if (this.#n === this.#values.length) {
      const next = new Uint32Array(this.#values.length * 2)
      next.set(this.#values)
      this.#values = next
    }
    this.#values[this.#n++] = micros
  }

  /** p in [0, 100]; NaN without samples. */
  percentiles(ps: readonly number[]): number[] {
    if (this.#n === 0) return ps.map(() => NaN)
    const sorted = this.#values.slice(0, this.#n).sort()
    return ps.map((p) => sorted[Math.min(this.#n - 1, Math.max(0, Math.ceil((p / 100) * this.#n) - 1))]!)
  }
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
