// Knows whether the app is reachable, without anyone waiting on it: a TCP connect every
// interval in the background. Readiness and the answers to load-balancer health checks
// read `reachable`; forwarders report what they saw so a crash shows up at once.
import net from 'node:net'
import type { HostPort } from '../config.js'

export class UpstreamProbe {
  #reachable = false
  #timer: NodeJS.Timeout | undefined
  #probing = false
  #firstResult: Promise<void>
  #resolveFirst!: () => void
  #listeners = new Set<(reachable: boolean) => void>()

  constructor(
    private readonly target: HostPort,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
  ) {
    this.#firstResult = new Promise((resolve) => {
      this.#resolveFirst = resolve
    })
  }

  get reachable(): boolean {
    return this.#reachable
  }

  /** Resolves after the first probe answered, either way. */
  start(): Promise<void> {
    this.#probe()
    this.#timer = setInterval(() => this.#probe(), Math.max(this.intervalMs, 10))
    this.#timer.unref()
    return this.#firstResult
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /**
   * Probe every `ms` from now on (`undefined`: back to the configured interval). Watching for
   * a container restart probes faster, so a quick down-and-up is not missed.
   */
  setInterval(ms: number | undefined): void {
    if (this.#timer === undefined) return
    clearInterval(this.#timer)
    this.#timer = setInterval(() => this.#probe(), Math.max(ms ?? this.intervalMs, 10))
    this.#timer.unref()
  }

  onChange(fn: (reachable: boolean) => void): void {
    this.#listeners.add(fn)
  }

  /** A forwarder reached, or failed to reach, the app. */
  report(reachable: boolean): void {
    if (reachable !== this.#reachable) this.#set(reachable)
  }

  #set(reachable: boolean): void {
    const changed = reachable !== this.#reachable
    this.#reachable = reachable
    this.#resolveFirst()
    if (changed) for (const fn of this.#listeners) fn(reachable)
  }

  #probe(): void {
    if (this.#probing) return
    this.#probing = true
    const socket = net.connect({ host: this.target.host, port: this.target.port })
    socket.setTimeout(this.timeoutMs)
    const done = (ok: boolean) => {
      this.#probing = false
      socket.destroy()
      this.#set(ok)
    }
    socket.once('connect', () => done(true))
    socket.once('timeout', () => done(false))
    socket.once('error', () => done(false))
  }
}
