// Every error drainpipe throws on purpose is a DrainpipeError: a stable `code` (always ERR_…)
// that a log line, a metric, a test or a caller matches, and a message a person reads. One
// subclass per kind of mistake, each naming the codes it uses; they live here, together.
import type { ProxyErrorReason } from './proxy-protocol/errors.js'

export type ErrorCode = `ERR_${string}`

export class DrainpipeError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C

  constructor(code: C, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

/** A flag or environment value that cannot be used. `message` is the one line printed before exit 2. */
export class ConfigError extends DrainpipeError<'ERR_CONFIG_INVALID'> {
  constructor(
    message: string,
    readonly flag?: string,
  ) {
    super('ERR_CONFIG_INVALID', message)
  }
}

/**
 * One connection's PROXY header is refused. `reason` is a short label from a fixed set
 * (proxy-protocol/errors.ts, safe as a metrics label); the code is ERR_PP_ + the reason.
 */
export class ProxyProtocolError extends DrainpipeError {
  constructor(
    readonly reason: ProxyErrorReason,
    message: string,
  ) {
    super(`ERR_PP_${reason.toUpperCase()}`, message)
  }
}

export type ProxyProtocolConfigErrorCode = 'ERR_PP_BAD_CIDR' | 'ERR_PP_BAD_OPTION' | 'ERR_PP_BAD_ENCODE_INPUT' | 'ERR_PP_READER_DONE' // a HeaderReader or StackedHeaderGuard fed again after its final result

/** A bad PROXY protocol setting or encoder input, or a reader misused: not about a connection. */
export class ProxyProtocolConfigError extends DrainpipeError<ProxyProtocolConfigErrorCode> {}

export type ObserverConfigErrorCode =
  | 'ERR_OBSERVATIONS_OPTION' // TrafficObservations: history, capacity or source limit invalid
  | 'ERR_QUIET_PERIOD' // a fixed quiet period that is not a non-negative number of ms
  | 'ERR_QUIET_PERIOD_BOUNDS' // auto quiet-period bounds not 0 < min ≤ max
  | 'ERR_QUIET_PERIOD_PROBABILITY' // false-stop probability outside (0, 1)
  | 'ERR_HEALTHCHECK_OPTION' // healthcheck observer: multiple, interval bounds or sample size invalid

/** Options of the observers and the observations they read; thrown at construction, never while observing. */
export class ObserverConfigError extends DrainpipeError<ObserverConfigErrorCode> {}

/** A lifecycle transition the state table does not allow: a bug, never limped past. */
export class StateMachineError extends DrainpipeError<'ERR_LIFECYCLE_TRANSITION'> {
  constructor(message: string) {
    super('ERR_LIFECYCLE_TRANSITION', message)
  }
}

/** The app did not accept a connection within --upstream-connect-timeout. */
export class AppConnectTimeoutError extends DrainpipeError<'ERR_APP_CONNECT_TIMEOUT'> {
  constructor(timeoutMs: number) {
    super('ERR_APP_CONNECT_TIMEOUT', `the app did not accept the connection within ${timeoutMs} ms`)
  }
}

export type InjectErrorCode =
  | 'ERR_INJECT_SETTING'
  | 'ERR_INJECT_PORT'
  | 'ERR_INJECT_HOOK'
  | 'ERR_INJECT_PLACEMENT'
  | 'ERR_INJECT_FOREIGN'
  | 'ERR_INJECT_INPUT'

/** inject and the webhook: `message` names the object and what to change. */
export class InjectError extends DrainpipeError<InjectErrorCode> {}
