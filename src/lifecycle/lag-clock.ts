// The lag bound: how long the load balancer may keep opening new connections to this target after
// deregistration (--lb-lag-max; the NLB is reported to keep routing ~90–180 s after
// DeregisterTargets, not the same moment on every node). When traffic is too thin to tell a
// stopped LB from a slow one, the decision waits until deregistration + this bound.
//
// "Deregistration" is the first draining/unused the elbv2 observer saw (the latest over its target
// groups) when it runs, else termination start. An elbv2 observer that cannot ask (permission, a
// missing group, a target that was never registered) falls back to termination start.
//
// The fast lane (--health-check-on-terminate fail, ./fast-lane/) replaces the bound when it is
// engaged at termination start: the LB's health checks fail from then, and an NLB stops opening
// new connections to an unhealthy target much sooner (--lb-unhealthy-lag-max), so the clock runs
// from termination start with that bound, whatever elbv2 later reports.
import { performance } from 'node:perf_hooks'

export type DeregistrationSource =
  | 'termination start'
  | 'elbv2'
  | 'termination start (elbv2 could not tell)'
  | 'termination start (health checks failing)'

/** Which lag bound applies, chosen at termination start. */
export interface LagBoundChoice {
  /** 'unhealthy': the fast lane is engaged; 'deregistration': the LB stops after deregistration. */
  readonly lane: 'deregistration' | 'unhealthy'
  /** The flag the bound comes from, for logs: --lb-lag-max or --lb-unhealthy-lag-max. */
  readonly flag: '--lb-lag-max' | '--lb-unhealthy-lag-max'
  readonly lagMs: number
  /** Why this bound, in a sentence (the fast lane's state). */
  readonly why: string
}

export class LagClock {
  #lagMs: number
  #choice: LagBoundChoice
  readonly #choose: (() => LagBoundChoice | undefined) | undefined
  readonly #waitForElbv2: boolean
  #startedAt: number | undefined
  #deregisteredAt: number | undefined
  #source: DeregistrationSource | undefined
  readonly #listeners = new Set<() => void>()

  /**
   * `waitForElbv2`: the elbv2 observer runs and will report when it saw the deregistration.
   * `choose`: asked at start() which bound applies (the fast lane); undefined keeps `lagMs`.
   */
  constructor(lagMs: number, waitForElbv2: boolean, choose?: () => LagBoundChoice | undefined) {
    this.#lagMs = lagMs
    this.#choice = { lane: 'deregistration', flag: '--lb-lag-max', lagMs, why: 'the LB stops after deregistration' }
    this.#choose = choose
    this.#waitForElbv2 = waitForElbv2
  }

  /** The bound in force: --lb-lag-max, or --lb-unhealthy-lag-max once the fast lane engaged. */
  get lagMs(): number {
    return this.#lagMs
  }

  get choice(): LagBoundChoice {
    return this.#choice
  }

  start(startedAt: number): void {
    if (this.#startedAt !== undefined) return
    this.#startedAt = startedAt
    const choice = this.#choose?.()
    if (choice !== undefined) {
      this.#choice = choice
      this.#lagMs = choice.lagMs
    }
    if (this.#choice.lane === 'unhealthy') this.#set(startedAt, 'termination start (health checks failing)')
    else if (!this.#waitForElbv2) this.#set(startedAt, 'termination start')
  }

  /** The elbv2 observer saw every target group deregistered at `at` (or could not tell: `fellBack`). */
  deregistered(at: number, fellBack: boolean): void {
    if (this.#deregisteredAt !== undefined || this.#startedAt === undefined) return
    this.#set(fellBack ? this.#startedAt : Math.max(at, this.#startedAt), fellBack ? 'termination start (elbv2 could not tell)' : 'elbv2')
  }

  /** When the LB may have stopped at the latest (performance.now() ms), once deregistration is known. */
  get deadline(): number | undefined {
    return this.#deregisteredAt === undefined ? undefined : this.#deregisteredAt + this.lagMs
  }

  get deregisteredAt(): number | undefined {
    return this.#deregisteredAt
  }

  passed(now: number): boolean {
    const d = this.deadline
    return d !== undefined && now >= d
  }

  onChange(fn: () => void): void {
    this.#listeners.add(fn)
  }

  view(now = performance.now()): Record<string, unknown> {
    const start = this.#startedAt
    return {
      bound: this.#choice.flag,
      why: this.#choice.why,
      lagMaxSeconds: this.lagMs / 1000,
      deregistration: this.#source ?? (start === undefined ? null : 'waiting for elbv2'),
      deregisteredAfterSeconds:
        start === undefined || this.#deregisteredAt === undefined ? null : Math.round(this.#deregisteredAt - start) / 1000,
      deadlineInSeconds: this.deadline === undefined ? null : Math.round(Math.max(0, this.deadline - now)) / 1000,
    }
  }

  /**
   * For the draining log line: the bound that applied and, when new connections came after its
   * deadline (`lastArrivalAt`), that the LB kept sending past it (fail-open, or checks ignored).
   */
  summary(lastArrivalAt: number | undefined): Record<string, unknown> {
    const deadline = this.deadline
    const late = deadline !== undefined && lastArrivalAt !== undefined && lastArrivalAt >= deadline
    return {
      bound: this.#choice.flag,
      lagMaxSeconds: this.lagMs / 1000,
      why: this.#choice.why,
      deregistration: this.#source ?? null,
      connectionsAfterDeadline: late,
      ...(late
        ? {
            afterDeadline: `new connections came ${Math.round(lastArrivalAt - deadline) / 1000} s after the lag bound (${this.#choice.lane === 'unhealthy' ? 'the NLB fails open when every target is unhealthy, or ignored the failing health checks' : 'the LB lagged longer than assumed'}): served until they stopped`,
          }
        : {}),
    }
  }

  #set(at: number, source: DeregistrationSource): void {
    this.#deregisteredAt = at
    this.#source = source
    for (const fn of this.#listeners) fn()
  }
}
