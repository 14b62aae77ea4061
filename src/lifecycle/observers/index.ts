// Builds the deregistration observers named on the command line (--deregistration
// traffic[,elbv2][,healthcheck]) from a plain options object; the config module maps flags to it.

import type { TrafficObservations } from '../observations.js'
import type { LagClock } from '../lag-clock.js'
import { Elbv2Observer, type Elbv2CallHook, type Elbv2ObserverOptions } from './elbv2.js'
import { ObserverConfigError } from './errors.js'
import { HealthcheckObserver, type HealthcheckObserverOptions } from './healthcheck.js'
import { OBSERVER_NAMES, silentLogger, type DeregistrationObserver, type ObserverLogger, type ObserverName } from './observer.js'
import { TrafficObserver, type TrafficObserverOptions } from './traffic.js'

export { Elbv2Observer, HealthcheckObserver, TrafficObserver, ObserverConfigError, OBSERVER_NAMES }
export type { DeregistrationObserver, ObserverLogger, ObserverName, Elbv2CallHook, Elbv2ObserverOptions, HealthcheckObserverOptions, TrafficObserverOptions }
export type { Elbv2CallOutcome } from './elbv2.js'

export interface ObserverDeps {
  /** What the ingress records; read by `traffic` and `healthcheck`. */
  observations: TrafficObservations
  /** The lag bound: read by `traffic`, told by `elbv2` when it saw the deregistration. */
  lagClock: LagClock
  logger?: ObserverLogger
  /** Options of `traffic` (all optional: quiet period 'auto', bounds 2–60 s). */
  traffic?: Omit<TrafficObserverOptions, 'observations' | 'logger' | 'lagClock'>
  /** Options of `elbv2`: required when it is named. */
  elbv2?: Omit<Elbv2ObserverOptions, 'logger' | 'hook' | 'lagClock'>
  /** Counts elbv2 calls by outcome (prom-client in drainpipe). */
  elbv2Hook?: Elbv2CallHook
  /** Options of `healthcheck` (all optional). */
  healthcheck?: Omit<HealthcheckObserverOptions, 'observations' | 'logger'>
}

/** One observer per distinct name, in the order given. Throws ObserverConfigError. */
export function createObservers (names: readonly string[], deps: ObserverDeps): DeregistrationObserver[] {
  const logger = deps.logger ?? silentLogger
  const out: DeregistrationObserver[] = []
  for (const name of new Set(names)) {
    switch (name) {
      case 'traffic':
        out.push(new TrafficObserver({ ...deps.traffic, observations: deps.observations, lagClock: deps.lagClock, logger }))
        break
      case 'elbv2':
        if (deps.elbv2 === undefined) {
          throw new ObserverConfigError('ERR_OBSERVER_OPTIONS_MISSING', 'the elbv2 observer needs --target-group-arn (one or more), the target id (--target-id or env POD_IP) and port')
        }
        out.push(new Elbv2Observer({ ...deps.elbv2, logger, lagClock: deps.lagClock, ...(deps.elbv2Hook !== undefined ? { hook: deps.elbv2Hook } : {}) }))
        break
      case 'healthcheck':
        out.push(new HealthcheckObserver({ ...deps.healthcheck, observations: deps.observations, logger }))
        break
      default:
        throw new ObserverConfigError('ERR_OBSERVER_UNKNOWN', `unknown deregistration observer '${name}'; expected one or more of ${OBSERVER_NAMES.join(', ')}`)
    }
  }
  return out
}
