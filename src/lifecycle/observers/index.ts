// Builds the deregistration observers named on the command line (--deregistration
// traffic[,elbv2][,healthcheck]) from the checked configuration.

import type { Observed } from './ports.js'
import type { LagClock } from '../lag-clock.js'
import { Elbv2Observer, type Elbv2CallHook, type Elbv2ObserverOptions } from './elbv2.js'
import { ObserverConfigError } from '../../errors.js'
import type { Config } from '../../config.js'
import { HealthcheckObserver, type HealthcheckObserverOptions } from './healthcheck.js'
import { OBSERVER_NAMES, silentLogger, type DeregistrationObserver, type ObserverLogger, type ObserverName } from './observer.js'
import { TrafficObserver, type TrafficObserverOptions } from './traffic.js'

export { Elbv2Observer, HealthcheckObserver, TrafficObserver, ObserverConfigError, OBSERVER_NAMES }
export type {
  DeregistrationObserver,
  ObserverLogger,
  ObserverName,
  Elbv2CallHook,
  Elbv2ObserverOptions,
  HealthcheckObserverOptions,
  TrafficObserverOptions,
}
export type { Elbv2CallOutcome } from './elbv2.js'

/** The options the observers read, checked at the option table's boundary (src/config.ts). */
export type ObserverConfig = Pick<
  Config,
  | 'deregistration'
  | 'quietPeriodMs'
  | 'quietPeriodMinMs'
  | 'quietPeriodMaxMs'
  | 'lbRateDrop'
  | 'lbSources'
  | 'healthcheckSilenceMultiple'
  | 'targetGroupArns'
  | 'targetId'
  | 'targetPort'
  | 'awsRegion'
  | 'elbv2Endpoint'
  | 'elbv2PollIntervalMs'
>

export interface ObserverDeps {
  /** What the ingress records (one port's, or several ports' by name); read by `traffic` and `healthcheck`. */
  observations: Observed
  /** The lag bound: read by `traffic`, told by `elbv2` when it saw the deregistration. */
  lagClock: LagClock
  logger?: ObserverLogger
  /** Counts elbv2 calls by outcome (prom-client in drainpipe). */
  elbv2Hook?: Elbv2CallHook
  /** The target groups of the other pod ports (--ports target-group-arn=), each at its port. */
  moreTargetGroups?: ReadonlyArray<{ arn: string; port: number }>
  /** Static credentials for elbv2 (tests, the emulator); default: the SDK's chain. */
  elbv2Credentials?: Elbv2ObserverOptions['credentials']
}

/** One observer per name in --deregistration, in the order given. */
export function createObservers(config: ObserverConfig, deps: ObserverDeps): DeregistrationObserver[] {
  const logger = deps.logger ?? silentLogger
  const { observations, lagClock } = deps
  return config.deregistration.map((name) => newObserver(name))

  function newObserver(name: ObserverName): DeregistrationObserver {
    switch (name) {
      case 'traffic':
        return new TrafficObserver({
          observations,
          lagClock,
          logger,
          quietPeriodMs: config.quietPeriodMs,
          quietPeriodMinMs: config.quietPeriodMinMs,
          quietPeriodMaxMs: config.quietPeriodMaxMs,
          rateDrop: config.lbRateDrop,
          sources: config.lbSources,
        })
      case 'elbv2':
        return new Elbv2Observer({
          targetGroupArns: [...config.targetGroupArns, ...(deps.moreTargetGroups ?? []).map((g) => g.arn)],
          ...(deps.moreTargetGroups?.length ? { groupPorts: new Map(deps.moreTargetGroups.map((g) => [g.arn, g.port])) } : {}),
          // crossCheck refuses --deregistration elbv2 without a target id
          targetId: config.targetId!,
          targetPort: config.targetPort,
          pollIntervalMs: config.elbv2PollIntervalMs,
          ...(config.awsRegion ? { region: config.awsRegion } : {}),
          ...(config.elbv2Endpoint ? { endpoint: config.elbv2Endpoint } : {}),
          ...(deps.elbv2Credentials ? { credentials: deps.elbv2Credentials } : {}),
          ...(deps.elbv2Hook ? { hook: deps.elbv2Hook } : {}),
          logger,
          lagClock,
        })
      case 'healthcheck':
        return new HealthcheckObserver({ observations, logger, silenceMultiple: config.healthcheckSilenceMultiple })
    }
  }
}
