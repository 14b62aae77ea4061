// What the admin port reports besides the raw counters: the readiness policy behind /readyz, the
// /status document, and the values metrics read at scrape time (the "after readiness failed"
// counts are derived: totals minus a snapshot taken when termination started, so nothing on the
// data path needs to know about the lifecycle).
import { performance } from 'node:perf_hooks'
import { redactedConfig, type Config } from '../config.js'
import type { Lifecycle } from '../lifecycle/state.js'
import type { Termination } from '../lifecycle/termination.js'
import type { RestartWatchState } from '../lifecycle/container-restart.js'
import type { Metrics } from './metrics.js'

export interface StatusSources {
  readonly version: string
  readonly config: Config
  readonly lifecycle: Lifecycle
  readonly probe: { readonly reachable: boolean }
  readonly ingress: { readonly active: number; readonly clientConnections: number }
  readonly forwarder: { readonly requests: number }
  readonly restartWatch: { readonly state: RestartWatchState }
  /** The current termination (a new one after a container restart). */
  termination(): Termination
  /** The fast lane's state (--health-check-on-terminate, --health-check-listen). */
  fastLane(): Record<string, unknown>
}

export interface Readiness {
  ok: boolean
  reason: string
}

/** Ready: the lifecycle says so and the app is reachable. */
export function readiness({ lifecycle, probe, config }: StatusSources): Readiness {
  if (lifecycle.state !== 'ready')
    return { ok: false, reason: `not ready: ${lifecycle.state}${lifecycle.state === 'starting' ? ' (app not reachable yet)' : ''}` }
  if (!probe.reachable) return { ok: false, reason: `not ready: app at ${config.upstream.host}:${config.upstream.port} unreachable` }
  return { ok: true, reason: 'ready' }
}

/**
 * The load balancer's health checks are answered 200 while drainpipe serves traffic and the
 * app is reachable; during terminating it still serves, so it still says 200.
 */
export function serving({ lifecycle, probe }: Pick<StatusSources, 'lifecycle' | 'probe'>): boolean {
  return (lifecycle.state === 'ready' || lifecycle.state === 'terminating') && probe.reachable
}

/** GET /status. */
export function statusView(s: StatusSources): Record<string, unknown> {
  const { config, lifecycle, probe, ingress, forwarder } = s
  const { shutdown, observers, lagClock } = s.termination()
  return {
    version: s.version,
    state: lifecycle.state,
    since: lifecycle.sinceWall.toISOString(),
    ready: readiness(s),
    trigger: shutdown.trigger ?? null,
    // After a /prestop drain: 'armed' (app up), 'app-down' (waiting for it to come back).
    containerRestartWatch: s.restartWatch.state,
    terminationStartedSecondsAgo: shutdown.started ? Math.round(performance.now() - shutdown.startedAt) / 1000 : null,
    upstream: { address: `${config.upstream.host}:${config.upstream.port}`, reachable: probe.reachable },
    connections: { active: ingress.active, clientAccepted: ingress.clientConnections, requests: forwarder.requests },
    observers: Object.fromEntries(observers.map((o) => [o.name, { satisfied: o.satisfied, ...o.view() }])),
    decision: { waitingFor: shutdown.started && !shutdown.report ? shutdown.decision.pending() : null, lagBound: lagClock.view() },
    fastLane: s.fastLane(),
    drain: shutdown.report ?? null,
    config: redactedConfig(config),
  }
}

/** The values metrics read at scrape time. */
export function bindMetricSources(metrics: Metrics, s: Pick<StatusSources, 'lifecycle' | 'probe' | 'ingress' | 'forwarder'>): void {
  const { lifecycle, probe, ingress, forwarder } = s
  let clientsAtUnready = 0
  let requestsAtUnready = 0
  lifecycle.onChange((state) => {
    if (state === 'terminating') {
      clientsAtUnready = ingress.clientConnections
      requestsAtUnready = forwarder.requests
    }
  })
  metrics.bind({
    state: () => lifecycle.state,
    activeConnections: () => ingress.active,
    upstreamReachable: () => probe.reachable,
    acceptedSinceUnready: () => (lifecycle.terminating ? ingress.clientConnections - clientsAtUnready : 0),
    requestsSinceUnready: () => (lifecycle.terminating ? forwarder.requests - requestsAtUnready : 0),
  })
}
