// The target group each strategy's manifests configure: k8s/fast-lane's health checks and
// attributes for the fast-lane strategies (and an injected drainpipe that asks for the lane), the
// lab's health-check flags and AWS's defaults for the others.
import type { HealthCheckConfig } from './elbv2/target-group.js'
import type { LabOptions } from './lab-options.js'
import type { InjectedPlan } from './kube/injected-spec.js'
import { usesFastLaneTargetGroup, usesProxyProtocol, type StrategyName } from './strategies.js'

/** The dedicated health-check port (k8s/fast-lane's 8081). */
export const HEALTH_CHECK_PORT = 18081

/** k8s/fast-lane's health checks (service-fast-lane.yaml): HTTP on the dedicated port, every 5 s, timeout 2, unhealthy after 2. */
export const FAST_LANE_HEALTH_CHECK: Partial<HealthCheckConfig> = {
  protocol: 'HTTP',
  port: String(HEALTH_CHECK_PORT),
  path: '/healthz',
  intervalSeconds: 5,
  timeoutSeconds: 2,
  unhealthyThreshold: 2,
}
/** k8s/fast-lane's unhealthy draining interval (the grace period there). */
export const FAST_LANE_DRAINING_INTERVAL_SECONDS = 300
/** k8s/fast-lane's --lb-unhealthy-lag-max. */
export const FAST_LANE_UNHEALTHY_LAG_MAX_SECONDS = 60

export interface TargetGroupSetup {
  healthCheck: Partial<HealthCheckConfig>
  attributes: Record<string, string>
}

/**
 * The target group as the strategy's manifests configure it: k8s/fast-lane's checks and
 * attributes for the fast-lane strategies, the lab's health-check flags and AWS's defaults
 * (unhealthy connection termination on) for the others; --unhealthy-termination and
 * --unhealthy-draining-interval override either (the misconfiguration regimes).
 */
export function targetGroupSetup(strategy: StrategyName, o: LabOptions, injected?: InjectedPlan): TargetGroupSetup {
  // An injected drainpipe in the fast lane gets the fast lane's checks on its --health-check-listen port.
  const injectedHc =
    injected?.config.healthCheckOnTerminate === 'fail' && injected.config.healthCheckListen != null
      ? injected.config.healthCheckListen.port
      : undefined
  const fastLane = usesFastLaneTargetGroup(strategy) || injectedHc !== undefined
  const healthCheck: Partial<HealthCheckConfig> = fastLane
    ? { ...FAST_LANE_HEALTH_CHECK, ...(injectedHc === undefined ? {} : { port: String(injectedHc) }), healthyThreshold: o.healthyThreshold }
    : {
        protocol: o.healthCheckProtocol,
        path: '/',
        intervalSeconds: o.healthCheckIntervalSeconds,
        healthyThreshold: o.healthyThreshold,
        unhealthyThreshold: o.unhealthyThreshold,
      }
  return {
    healthCheck,
    attributes: {
      'proxy_protocol_v2.enabled': String(injected === undefined ? usesProxyProtocol(strategy) : injected.config.proxyProtocol !== 'off'),
      'deregistration_delay.connection_termination.enabled': String(o.deregistrationTermination),
      'target_health_state.unhealthy.connection_termination.enabled': String(o.unhealthyTermination ?? !fastLane),
      'target_health_state.unhealthy.draining_interval_seconds': String(
        o.unhealthyDrainingIntervalSeconds ?? (fastLane ? FAST_LANE_DRAINING_INTERVAL_SECONDS : 0),
      ),
    },
  }
}
