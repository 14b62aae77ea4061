// Flags that keep a test's wait for the load balancer short: a fixed quiet window, and a lag
// bound of the same (without traffic history the decision waits that long after termination).

/** A fixed quiet window of `seconds`, and a lag bound of the same. */
export function shortWait(seconds: number): string[] {
  return ['--quiet-period', String(seconds), '--lb-lag-max', String(seconds)]
}
