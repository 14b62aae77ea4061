// One termination: the lag clock, the deregistration observers and the shutdown sequence built
// together from the configuration. They run once; after a container restart (a /prestop drain
// no SIGTERM followed, then the app came back) the sidecar builds a fresh one for the next.
import type { Config } from '../config.js'
import type { Logger } from '../log.js'
import type { Metrics } from '../admin/metrics.js'
import type { Lifecycle } from './state.js'
import type { Observed } from './observers/ports.js'
import { LagClock, type LagBoundChoice } from './lag-clock.js'
import { Shutdown, type DrainTarget } from './shutdown.js'
import { createObservers, Elbv2Observer, type DeregistrationObserver, type ObserverConfig } from './observers/index.js'

export type TerminationConfig = ObserverConfig &
  Pick<Config, 'lbLagMaxMs' | 'connectionCloseOnTerminate' | 'minWaitMs' | 'maxWaitMs' | 'drainTimeoutMs'>

export interface TerminationDeps {
  config: TerminationConfig
  lifecycle: Lifecycle
  /** One port's observations, or several ports' by name. */
  observations: Observed
  target: DrainTarget
  logger: Logger
  metrics: Metrics
  /** The target groups of the other pod ports (elbv2), each at its port. */
  moreTargetGroups?: ReadonlyArray<{ arn: string; port: number }>
  /** Which lag bound applies, asked at termination start (the fast lane's, when it engaged). */
  lagChoice?: () => LagBoundChoice | undefined
}

export interface Termination {
  readonly lagClock: LagClock
  readonly observers: readonly DeregistrationObserver[]
  readonly shutdown: Shutdown
}

export function newTermination({
  config,
  lifecycle,
  observations,
  target,
  logger,
  metrics,
  lagChoice,
  moreTargetGroups,
}: TerminationDeps): Termination {
  const lagClock = new LagClock(config.lbLagMaxMs, config.deregistration.includes('elbv2'), lagChoice)
  const observers = createObservers(config, {
    observations,
    lagClock,
    logger: logger.child({ component: 'observer' }),
    elbv2Hook: { onCall: (outcome) => metrics.elbv2Calls[outcome].inc() },
    ...(moreTargetGroups ? { moreTargetGroups } : {}),
  })
  const shutdown = new Shutdown({
    lifecycle,
    observers,
    observations,
    lagClock,
    target,
    logger,
    metrics,
    connectionCloseOnTerminate: config.connectionCloseOnTerminate,
    minWaitMs: config.minWaitMs,
    maxWaitMs: config.maxWaitMs,
    drainTimeoutMs: config.drainTimeoutMs,
  })
  return { lagClock, observers, shutdown }
}

/** At start-up: elbv2 checks that the pod is registered where it was told (a warning if not). */
export function checkAtStartup(t: Termination): void {
  for (const o of t.observers) if (o instanceof Elbv2Observer) o.checkAtStartup()
}

/** Stop the observers' timers and calls (the process is closing). */
export function stopObservers(t: Termination): void {
  for (const o of t.observers) o.stop()
}
