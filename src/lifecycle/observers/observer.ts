// The contract every deregistration observer keeps. The shutdown coordinator starts them all when
// termination begins, waits until every one is satisfied (bounded by --min-wait and --max-wait,
// which are the coordinator's business, not the observers'), shows their views in GET /status and
// in the max-wait warning, and stops them.

export type ObserverName = 'traffic' | 'elbv2' | 'healthcheck'

export const OBSERVER_NAMES: readonly ObserverName[] = Object.freeze(['traffic', 'elbv2', 'healthcheck'])

export interface DeregistrationObserver {
  readonly name: ObserverName
  /** Termination began (performance.now() ms). Calling it again is ignored. */
  start (startedAt: number): void
  /** This observer believes the LB has stopped sending new connections. Once true, stays true. */
  readonly satisfied: boolean
  /** Resolves once satisfied (stays resolved). Never rejects. */
  whenSatisfied (): Promise<void>
  /** JSON-safe, for GET /status and the max-wait warning. */
  view (): Record<string, unknown>
  /** Clear timers, abort in-flight calls; idempotent. Does not resolve whenSatisfied. */
  stop (): void
}

/** pino-compatible logger subset the observers use. */
export interface ObserverLogger {
  info (obj: object, msg?: string): void
  warn (obj: object, msg?: string): void
  debug (obj: object, msg?: string): void
}

/** A logger that drops everything. */
export const silentLogger: ObserverLogger = Object.freeze({ info () {}, warn () {}, debug () {} })

/** Milliseconds as seconds rounded to the millisecond, for views. */
export function viewSeconds (ms: number): number {
  return Math.round(ms) / 1000
}
