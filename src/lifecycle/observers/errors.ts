// Configuration errors of the deregistration observers and the observations they read. Each
// carries a code; they are thrown at construction (start-up), never while observing.

export type ObserverConfigErrorCode =
  | 'ERR_OBSERVATIONS_OPTION' // TrafficObservations: history, capacity or source limit invalid
  | 'ERR_QUIET_PERIOD' // a fixed quiet period that is not a non-negative number of seconds
  | 'ERR_QUIET_PERIOD_BOUNDS' // auto quiet-period bounds not 0 < min ≤ max
  | 'ERR_QUIET_PERIOD_PROBABILITY' // false-stop probability outside (0, 1)
  | 'ERR_HEALTHCHECK_OPTION' // healthcheck observer: multiple, interval bounds or sample size invalid

export class ObserverConfigError extends Error {
  readonly code: ObserverConfigErrorCode

  constructor (code: ObserverConfigErrorCode, message: string) {
    super(message)
    this.name = 'ObserverConfigError'
    this.code = code
  }
}
