// Several apps' probes read as one: reachable when every one is. Readiness and the container
// restart watch ask this; each pod port's own health checks ask its own probe.
import type { UpstreamProbe } from './upstream-probe.js'

export class ProbeSet {
  readonly #probes: readonly UpstreamProbe[]
  readonly #listeners = new Set<(reachable: boolean) => void>()
  #reachable = false

  constructor(probes: readonly UpstreamProbe[]) {
    this.#probes = probes
    for (const p of probes) p.onChange(() => this.#changed())
  }

  /** Every app reachable at its last probe. */
  get reachable(): boolean {
    return this.#probes.every((p) => p.reachable)
  }

  /** `fn` runs when `reachable` changes. */
  onChange(fn: (reachable: boolean) => void): void {
    this.#listeners.add(fn)
  }

  /** Resolves once every probe answered once. */
  async start(): Promise<void> {
    await Promise.all(this.#probes.map((p) => p.start()))
  }

  stop(): void {
    for (const p of this.#probes) p.stop()
  }

  setInterval(ms: number | undefined): void {
    for (const p of this.#probes) p.setInterval(ms)
  }

  #changed(): void {
    const now = this.reachable
    if (now === this.#reachable) return
    this.#reachable = now
    for (const fn of this.#listeners) fn(now)
  }
}
