// The deregistration decision: draining starts at the first moment when every configured observer
// is satisfied at the same time, --min-wait has passed and, when no traffic observer looks at the
// arrivals, the lag bound has passed too. No verdict is latched: each is read live when the
// decision looks, so an arrival after "quiet" simply makes the traffic observer answer false
// again. --min-wait is only a floor; --max-wait is the coordinator's cap (shutdown.ts).
//
// Looking twice: observers say "satisfied" from timers, and a timer runs in the event loop's timers
// phase, before the poll phase that accepts connections queued meanwhile (after a stall: a busy
// CPU, a GC pause). So an agreement is only final SETTLE_MS later, after a few loop turns, and
// then once more in the check phase right after a poll phase (setImmediate), with everything that
// was queued accepted and counted. Still agreed then: decided. Not: the agreement was revoked and
// the decision waits for the next change.
import { performance } from 'node:perf_hooks'
import type { DeregistrationObserver, ObserverLogger } from './observers/observer.js'
import type { LagClock } from './lag-clock.js'

export const SETTLE_MS = 100

export interface DecisionOptions {
  observers: readonly DeregistrationObserver[]
  lagClock: LagClock
  minWaitMs: number
  logger: ObserverLogger
}

export class Decision {
  readonly #opts: DecisionOptions
  /** No observer reads the traffic: only the lag bound can say the LB stopped. */
  readonly #needsLagBound: boolean
  #startedAt: number | undefined
  #settling = false
  #decided = false
  #stopped = false
  #revocations = 0
  #resolve!: () => void
  readonly #agreed: Promise<void>
  readonly #timers = new Set<NodeJS.Timeout>()

  constructor(opts: DecisionOptions) {
    this.#opts = opts
    this.#needsLagBound = !opts.observers.some((o) => o.name === 'traffic')
    this.#agreed = new Promise((resolve) => {
      this.#resolve = resolve
    })
    for (const o of opts.observers) o.onChange(() => this.#evaluate())
    opts.lagClock.onChange(() => this.#lagKnown())
  }

  /** Agreements revoked between the first look and the confirming one. */
  get revocations(): number {
    return this.#revocations
  }

  /** Termination began: watch. Observers and the lag clock are started by the caller. */
  start(startedAt: number): void {
    if (this.#startedAt !== undefined) return
    this.#startedAt = startedAt
    this.#at(startedAt + this.#opts.minWaitMs)
    this.#lagKnown()
    this.#evaluate()
  }

  /** Resolves at the first moment of agreement. */
  whenAgreed(): Promise<void> {
    return this.#agreed
  }

  /** Which conditions hold now: for the max-wait warning and /status. */
  pending(now = performance.now()): string[] {
    const out = this.#opts.observers.filter((o) => !o.satisfied).map((o) => o.name as string)
    if (this.#startedAt !== undefined && now < this.#startedAt + this.#opts.minWaitMs) out.push('min-wait')
    if (this.#needsLagBound && !this.#opts.lagClock.passed(now)) out.push('lag-bound')
    return out
  }

  stop(): void {
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
  }

  #agreedNow(): boolean {
    return this.#startedAt !== undefined && this.pending().length === 0
  }

  #lagKnown(): void {
    const deadline = this.#opts.lagClock.deadline
    if (this.#needsLagBound && deadline !== undefined) this.#at(deadline)
  }

  /**
   * Evaluate at `at` (performance.now() ms). A timer can fire up to a millisecond before `at` by
   * performance.now() (the loop's clock counts whole milliseconds); then --min-wait or the lag
   * bound would not have passed yet and nothing would look again: so look again until it has.
   */
  #at(at: number): void {
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer)
        if (performance.now() < at) this.#at(at)
        else this.#evaluate()
      },
      Math.max(1, Math.ceil(at - performance.now())),
    )
    this.#timers.add(timer)
  }

  #evaluate(): void {
    if (this.#stopped || this.#decided || this.#settling || !this.#agreedNow()) return
    this.#settling = true
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      setImmediate(() => {
        this.#settling = false
        if (this.#stopped || this.#decided) return
        if (!this.#agreedNow()) {
          this.#revocations++
          this.#opts.logger.info({ waitingFor: this.pending() }, 'agreement revoked before it was final: new activity')
          // Observers announce when they are satisfied again; look again anyway, in case what
          // revoked it (a connection being classified) passes without a change of verdict.
          this.#at(performance.now() + SETTLE_MS)
          return
        }
        this.#decided = true
        this.#resolve()
      })
    }, SETTLE_MS)
    this.#timers.add(timer)
  }
}
