// The contract every deregistration observer keeps. The shutdown coordinator starts them all when
// termination begins; the decision (../decision.ts) drains at the first moment every one of them
// is satisfied at the same time (and --min-wait passed), reading `satisfied` live: a verdict holds
// only while it is still true, so an observer whose view changes back (a new arrival after
// "quiet") simply answers false again. --max-wait is the coordinator's business.

/** The observers --deregistration may name. */
export const OBSERVER_NAMES = Object.freeze(['traffic', 'elbv2', 'healthcheck'] as const)
export type ObserverName = (typeof OBSERVER_NAMES)[number]

export interface DeregistrationObserver {
  readonly name: ObserverName
  /** Termination began (performance.now() ms). Calling it again is ignored. */
  start(startedAt: number): void
  /** This observer believes, now, that the LB has stopped sending new connections. */
  readonly satisfied: boolean
  /** `fn` runs whenever `satisfied` may have changed (at least when it turns true). */
  onChange(fn: () => void): void
  /** JSON-safe, for GET /status and the max-wait warning. */
  view(): Record<string, unknown>
  /** The few fields that say on what the verdict rests, for the draining log line and metrics. */
  summary(): Record<string, unknown>
  /** Clear timers, abort in-flight calls; idempotent. */
  stop(): void
}

/** pino-compatible logger subset the observers use. */
export interface ObserverLogger {
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
  debug(obj: object, msg?: string): void
}

/** A logger that drops everything. */
export const silentLogger: ObserverLogger = Object.freeze({ info() {}, warn() {}, error() {}, debug() {} })

/** Milliseconds as seconds rounded to the millisecond, for views. */
export function viewSeconds(ms: number): number {
  return Math.round(ms) / 1000
}

/** The listeners of an observer's onChange. */
export class ChangeListeners {
  readonly #fns = new Set<() => void>()
  add(fn: () => void): void {
    this.#fns.add(fn)
  }
  emit(): void {
    for (const fn of this.#fns) fn()
  }
}
