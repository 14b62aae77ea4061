// The lag bound: how long the load balancer may keep opening new connections to this target after
// deregistration (--lb-lag-max; the NLB is reported to keep routing ~90–180 s after
// DeregisterTargets, not the same moment on every node). When traffic is too thin to tell a
// stopped LB from a slow one, the decision waits until deregistration + this bound.
//
// "Deregistration" is the first draining/unused the elbv2 observer saw (the latest over its target
// groups) when it runs, else termination start. An elbv2 observer that cannot ask (permission, a
// missing group, a target that was never registered) falls back to termination start.
import { performance } from 'node:perf_hooks'

export type DeregistrationSource = 'termination start' | 'elbv2' | 'termination start (elbv2 could not tell)'

export class LagClock {
  readonly lagMs: number
  readonly #waitForElbv2: boolean
  #startedAt: number | undefined
  #deregisteredAt: number | undefined
  #source: DeregistrationSource | undefined
  readonly #listeners = new Set<() => void>()

  /** `waitForElbv2`: the elbv2 observer runs and will report when it saw the deregistration. */
  constructor (lagMs: number, waitForElbv2: boolean) {
    this.lagMs = lagMs
    this.#waitForElbv2 = waitForElbv2
  }

  start (startedAt: number): void {
    if (this.#startedAt !== undefined) return
    this.#startedAt = startedAt
    if (!this.#waitForElbv2) this.#set(startedAt, 'termination start')
  }

  /** The elbv2 observer saw every target group deregistered at `at` (or could not tell: `fellBack`). */
  deregistered (at: number, fellBack: boolean): void {
    if (this.#deregisteredAt !== undefined || this.#startedAt === undefined) return
    this.#set(fellBack ? this.#startedAt : Math.max(at, this.#startedAt), fellBack ? 'termination start (elbv2 could not tell)' : 'elbv2')
  }

  /** When the LB may have stopped at the latest (performance.now() ms), once deregistration is known. */
  get deadline (): number | undefined {
    return this.#deregisteredAt === undefined ? undefined : this.#deregisteredAt + this.lagMs
  }

  get deregisteredAt (): number | undefined { return this.#deregisteredAt }

  passed (now: number): boolean {
    const d = this.deadline
    return d !== undefined && now >= d
  }

  onChange (fn: () => void): void { this.#listeners.add(fn) }

  view (now = performance.now()): Record<string, unknown> {
    const start = this.#startedAt
    return {
      lagMaxSeconds: this.lagMs / 1000,
      deregistration: this.#source ?? (start === undefined ? null : 'waiting for elbv2'),
      deregisteredAfterSeconds: start === undefined || this.#deregisteredAt === undefined ? null : Math.round(this.#deregisteredAt - start) / 1000,
      deadlineInSeconds: this.deadline === undefined ? null : Math.round(Math.max(0, this.deadline - now)) / 1000,
    }
  }

  #set (at: number, source: DeregistrationSource): void {
    this.#deregisteredAt = at
    this.#source = source
    for (const fn of this.#listeners) fn()
  }
}
