// drainpipe's exit status after termination: the kubelet records it (the container's
// lastState.terminated.exitCode, kube-state-metrics' *_last_terminated_exitcode), so a rollout
// can be audited afterwards from the status alone.
//
//   0  clean: the load balancer was seen to stop, then every connection finished
//   3  the wait ended before the load balancer was seen to stop (--max-wait, or an operator's
//      second SIGINT): new connections may have been refused after the pod port closed
//   4  --drain-timeout closed connections still open (in-flight work was cut)
//   5  both
//   1  a fatal error; 2 a bad flag (config.ts)
import type { ShutdownReport } from './shutdown.js'

export const EXIT_CLEAN = 0
export const EXIT_WAIT_CUT_SHORT = 3
export const EXIT_CONNECTIONS_CUT = 4
export const EXIT_BOTH = 5

export function exitStatus(report: ShutdownReport | undefined): { code: number; meaning: string } {
  // No report: exiting without a drain (never happens on a signal after start-up; kept total).
  if (!report) return { code: EXIT_CLEAN, meaning: 'no termination sequence ran' }
  const early = report.waitEnded !== 'observers'
  const cut = report.cut > 0
  if (early && cut)
    return { code: EXIT_BOTH, meaning: `wait ended by ${report.waitEnded} and ${report.cut} connection(s) cut at --drain-timeout` }
  if (early) return { code: EXIT_WAIT_CUT_SHORT, meaning: `wait ended by ${report.waitEnded} before the load balancer was seen to stop` }
  if (cut) return { code: EXIT_CONNECTIONS_CUT, meaning: `${report.cut} connection(s) cut at --drain-timeout` }
  return { code: EXIT_CLEAN, meaning: 'clean: the load balancer stopped, every connection finished' }
}
