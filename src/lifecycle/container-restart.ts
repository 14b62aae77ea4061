// A /prestop drain that no SIGTERM follows was a container restart, not the pod ending.
//
// The kubelet runs the app container's preStop hook (our /prestop) before every stop of that
// container: when the pod is deleted, but also when it restarts the container after a failed
// liveness or startup probe. Then the kubelet SIGTERMs the app once /prestop answered, the app
// goes down, and the container starts again; drainpipe gets no signal. Seen from here:
//
//   armed ──(app unreachable)──► app-down ──(app reachable)──► restarted: reopen, ready
//
// "The app is reachable again" therefore means: seen down after the drain, then up. Reachable
// without having gone down is the app still running after its hook (a pod being deleted, whose
// SIGTERM is on its way), not a restart. While armed the probe runs every RESTART_PROBE_MS so a
// quick restart is not missed between two probes. A SIGTERM at any point wins: disarm().
import { performance } from 'node:perf_hooks'
import type { Logger } from '../log.js'

export const RESTART_PROBE_MS = 100

export interface ReachabilityProbe {
  readonly reachable: boolean
  onChange(fn: (reachable: boolean) => void): void
  setInterval(ms: number | undefined): void
}

export type RestartWatchState = 'idle' | 'armed' | 'app-down'

export class ContainerRestartWatch {
  #state: RestartWatchState = 'idle'
  #downAt = 0

  constructor(
    private readonly probe: ReachabilityProbe,
    private readonly logger: Logger,
    private readonly onRestart: (downForMs: number) => void,
  ) {
    probe.onChange((reachable) => this.#onReachability(reachable))
  }

  get state(): RestartWatchState {
    return this.#state
  }

  /** A /prestop drain finished: from now on an app that goes down and comes back is a restart. */
  arm(): void {
    if (this.#state !== 'idle') return
    this.#state = 'armed'
    this.probe.setInterval(RESTART_PROBE_MS)
    this.logger.info({}, 'drained after /prestop: serving again if the app restarts (container restart), exiting on SIGTERM (pod deletion)')
    if (!this.probe.reachable) this.#onReachability(false)
  }

  /** Termination by signal, or the restart was handled. */
  disarm(): void {
    if (this.#state === 'idle') return
    this.#state = 'idle'
    this.probe.setInterval(undefined)
  }

  #onReachability(reachable: boolean): void {
    if (this.#state === 'armed' && !reachable) {
      this.#state = 'app-down'
      this.#downAt = performance.now()
      this.logger.info({}, 'app went down after /prestop: waiting for it to come back (container restart) or for SIGTERM')
    } else if (this.#state === 'app-down' && reachable) {
      this.disarm()
      this.onRestart(Math.round(performance.now() - this.#downAt))
    }
  }
}
