// The termination budget: how long drainpipe may take once termination starts, set against the
// pod's terminationGracePeriodSeconds, after which the kubelet sends SIGKILL. One definition,
// used by the option check (a budget that does not fit refuses to start), the plan printed at
// start-up, and the manifests test (and whatever else writes pod specs for users).
//
//   --max-wait        the longest drainpipe keeps serving while the load balancer may still send
//   --drain-timeout   the longest in-flight work then gets
//   margin            the app's own exit after its SIGTERM (the kubelet sends it once /prestop
//                     answered), hook start-up, log flushing: 10% of the two above, at most 10 s
//                     (proportional, so a time-scaled lab keeps the same shape)

export const GRACE_MARGIN_FRACTION = 0.1
export const GRACE_MARGIN_MAX_MS = 10_000

export interface GraceBudget {
  readonly maxWaitMs: number
  readonly drainTimeoutMs: number
  readonly marginMs: number
  /** max-wait + drain-timeout + margin: the grace period this configuration needs. */
  readonly neededMs: number
  /** The pod's grace period as drainpipe was told it (--grace-period), if it was. */
  readonly gracePeriodMs: number | undefined
  /** False only when a grace period is known and the need exceeds it. */
  readonly fits: boolean
}

export function graceBudget(o: { maxWaitMs: number; drainTimeoutMs: number; gracePeriodMs?: number | undefined }): GraceBudget {
  const marginMs = Math.min(GRACE_MARGIN_MAX_MS, Math.round((o.maxWaitMs + o.drainTimeoutMs) * GRACE_MARGIN_FRACTION))
  const neededMs = o.maxWaitMs + o.drainTimeoutMs + marginMs
  return {
    maxWaitMs: o.maxWaitMs,
    drainTimeoutMs: o.drainTimeoutMs,
    marginMs,
    neededMs,
    gracePeriodMs: o.gracePeriodMs,
    fits: o.gracePeriodMs === undefined || neededMs <= o.gracePeriodMs,
  }
}

/** The smallest whole terminationGracePeriodSeconds that fits, for whoever writes pod specs. */
export function minimumGracePeriodSeconds(o: { maxWaitMs: number; drainTimeoutMs: number }): number {
  return Math.ceil(graceBudget(o).neededMs / 1000)
}

/** Kubernetes' terminationGracePeriodSeconds when a pod spec sets none. */
export const KUBERNETES_DEFAULT_GRACE_S = 30

/**
 * The terminationGracePeriodSeconds a pod-spec writer (drainpipe inject) sets: --max-wait +
 * --drain-timeout + its own margin, where the margin is never below the budget's largest
 * (GRACE_MARGIN_MAX_MS), so the result always fits drainpipe's own check. A larger value already
 * in the spec (or Kubernetes' default when none is) is the user's and is kept.
 */
export function gracePeriodToWrite(o: {
  currentS: number | undefined
  maxWaitMs: number
  drainTimeoutMs: number
  marginMs: number
}): number {
  const neededS = Math.ceil((o.maxWaitMs + o.drainTimeoutMs + Math.max(o.marginMs, GRACE_MARGIN_MAX_MS)) / 1000)
  return Math.max(o.currentS ?? KUBERNETES_DEFAULT_GRACE_S, neededS, minimumGracePeriodSeconds(o))
}

const s = (ms: number) => `${Math.round(ms) / 1000} s`

/** The one line printed at start-up: what termination may take, and when SIGKILL comes. */
export function describePlan(b: GraceBudget): string {
  const kill =
    b.gracePeriodMs === undefined
      ? "SIGKILL expected at the pod's terminationGracePeriodSeconds (unknown: set --grace-period to have it checked)"
      : `SIGKILL expected at ${s(b.gracePeriodMs)}`
  return `on termination: will wait at most ${s(b.maxWaitMs)} for the load balancer, drain at most ${s(b.drainTimeoutMs)}; ${kill}`
}

/** Why a budget does not fit, naming every number (the ConfigError message). */
export function describeOverrun(b: GraceBudget): string {
  return (
    `--grace-period ${s(b.gracePeriodMs ?? 0)} is too short: --max-wait ${s(b.maxWaitMs)} + --drain-timeout ${s(b.drainTimeoutMs)} + ${s(b.marginMs)} margin = ${s(b.neededMs)}; ` +
    `raise terminationGracePeriodSeconds (and --grace-period) to at least ${Math.ceil(b.neededMs / 1000)}, or lower --max-wait/--drain-timeout`
  )
}
