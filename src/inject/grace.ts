// terminationGracePeriodSeconds must cover drainpipe's whole termination: --max-wait (serving
// until the LB stopped), --drain-timeout (in-flight work), and a margin (the app's own shutdown
// after its SIGTERM, hook start-up, log flushing). A larger value is the user's and is kept.
export const KUBERNETES_DEFAULT_GRACE_S = 30
export const MIN_GRACE_MARGIN_MS = 10_000

export function gracePeriodSeconds(current: number | undefined, maxWaitMs: number, drainTimeoutMs: number, marginMs: number): number {
  const needed = Math.ceil((maxWaitMs + drainTimeoutMs + Math.max(marginMs, MIN_GRACE_MARGIN_MS)) / 1000)
  return Math.max(current ?? KUBERNETES_DEFAULT_GRACE_S, needed)
}
