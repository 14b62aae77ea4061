// Whether a target group's attributes make failing its health checks safe (the fast lane,
// --health-check-on-terminate fail). A pure judgement of what DescribeTargetGroupAttributes
// returned; ./safety-check.ts makes the call.
//
//   target_health_state.unhealthy.connection_termination.enabled   must be false: when true (the
//       AWS default) the NLB resets every connection to a target the moment it turns unhealthy,
//       so failing the checks would cut every request in flight.
//   target_health_state.unhealthy.draining_interval_seconds         how long the NLB keeps an
//       unhealthy target's connections open. It must cover the time to decide (at most the
//       unhealthy lag bound plus a margin, counted from termination start, which is before the
//       target turns unhealthy) and the drain (--drain-timeout) after it.

export const UNHEALTHY_CONNECTION_TERMINATION = 'target_health_state.unhealthy.connection_termination.enabled'
export const UNHEALTHY_DRAINING_INTERVAL = 'target_health_state.unhealthy.draining_interval_seconds'

/** Added to --lb-unhealthy-lag-max for the time to decide: a last window after the bound, the final look. */
export const DECISION_MARGIN_MS = 10_000

export interface LaneNeeds {
  /** --lb-unhealthy-lag-max */
  unhealthyLagMs: number
  /** --drain-timeout */
  drainTimeoutMs: number
}

/** The shortest unhealthy draining interval the fast lane accepts, whole seconds. */
export function neededDrainingIntervalSeconds(n: LaneNeeds): number {
  return Math.ceil((n.unhealthyLagMs + DECISION_MARGIN_MS + n.drainTimeoutMs) / 1000)
}

export interface AttributeVerdict {
  ok: boolean
  /** Why not, naming the attribute and the value to set; or what was verified. */
  reason: string
  connectionTermination: string
  drainingIntervalSeconds: number | null
  neededDrainingIntervalSeconds: number
}

export function judgeAttributes(attributes: ReadonlyMap<string, string>, n: LaneNeeds): AttributeVerdict {
  const needed = neededDrainingIntervalSeconds(n)
  // Absent on load balancers that predate the attribute: the behaviour then is the default, reset.
  const termination = attributes.get(UNHEALTHY_CONNECTION_TERMINATION) ?? 'true (absent: the AWS default)'
  const intervalText = attributes.get(UNHEALTHY_DRAINING_INTERVAL)
  const interval = intervalText === undefined || !/^\d+$/.test(intervalText) ? null : Number(intervalText)
  const base = { connectionTermination: termination, drainingIntervalSeconds: interval, neededDrainingIntervalSeconds: needed }
  if (!termination.startsWith('false')) {
    return {
      ...base,
      ok: false,
      reason: `${UNHEALTHY_CONNECTION_TERMINATION} is ${termination}: failing the health checks would reset every connection in flight; set it to false`,
    }
  }
  if (interval === null || interval < needed) {
    return {
      ...base,
      ok: false,
      reason: `${UNHEALTHY_DRAINING_INTERVAL} is ${intervalText ?? 'absent'}: shorter than the ${needed} s the fast lane may need (--lb-unhealthy-lag-max ${n.unhealthyLagMs / 1000} s + ${DECISION_MARGIN_MS / 1000} s to decide + --drain-timeout ${n.drainTimeoutMs / 1000} s), so the NLB could close connections still draining; set it to at least ${needed}`,
    }
  }
  return { ...base, ok: true, reason: `unhealthy connection termination off, draining interval ${interval} s ≥ ${needed} s` }
}
