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
import type { PodPort } from '../pod-port.js'

export interface StatusSources {
  readonly version: string
  readonly config: Config
  readonly lifecycle: Lifecycle
  /** Every app reachable. */
  readonly probe: { readonly reachable: boolean }
  /** The pod ports, the --listen one first. */
  readonly ports: readonly PodPort[]
  /** Every port's connections. */
  readonly ingress: { readonly active: number; readonly clientConnections: number }
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

/** Ready: the lifecycle says so and every port's app is reachable. */
export function readiness({ lifecycle, probe, ports }: StatusSources): Readiness {
  if (lifecycle.state !== 'ready')
    return { ok: false, reason: `not ready: ${lifecycle.state}${lifecycle.state === 'starting' ? ' (app not reachable yet)' : ''}` }
  if (!probe.reachable) {
    const down = ports.filter((p) => !p.probe.reachable)
    const where = down.map(
      (p) => `${ports.length > 1 ? `port ${p.settings.name}: ` : ''}app at ${p.settings.upstream.host}:${p.settings.upstream.port}`,
    )
    return { ok: false, reason: `not ready: ${where.join(', ') || 'app'} unreachable` }
  }
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
  const { config, lifecycle, probe, ingress, ports } = s
  const { shutdown, observers, lagClock } = s.termination()
  const views = observers.map((o) => [o.name, { satisfied: o.satisfied, ...o.view() }] as const)
  const traffic = views.find(([name]) => name === 'traffic')?.[1] as { sources?: Array<{ port?: string }> } | undefined
  const requests = ports.reduce((n, p) => n + p.forwarder.requests, 0)
  return {
    version: s.version,
    state: lifecycle.state,
    since: lifecycle.sinceWall.toISOString(),
    ready: readiness(s),
    trigger: shutdown.trigger ?? null,
    // After a /prestop drain: 'armed' (app up), 'app-down' (waiting for it to come back).
    containerRestartWatch: s.restartWatch.state,
    terminationStartedSecondsAgo: shutdown.started ? Math.round(performance.now() - shutdown.startedAt) / 1000 : null,
    upstream: {
      address: ports.map((p) => `${p.settings.upstream.host}:${p.settings.upstream.port}`).join(', '),
      reachable: probe.reachable,
    },
    connections: { active: ingress.active, clientAccepted: ingress.clientConnections, requests },
    // Each port: its settings, its app, its connections and the traffic observer's sources on it.
    ports: ports.map((p) => ({
      name: p.settings.name,
      listen: `${p.settings.listen.host}:${p.ingress.boundPort ?? p.settings.listen.port}`,
      upstream: `${p.settings.upstream.host}:${p.settings.upstream.port}`,
      mode: p.settings.mode,
      proxyProtocol: p.settings.proxyProtocol,
      appReachable: p.probe.reachable,
      connections: { active: p.ingress.active, clientAccepted: p.ingress.clientConnections, requests: p.forwarder.requests },
      decisionSources: traffic?.sources?.filter((src) => ports.length === 1 || src.port === p.settings.name) ?? null,
    })),
    observers: Object.fromEntries(views),
    decision: { waitingFor: shutdown.started && !shutdown.report ? shutdown.decision.pending() : null, lagBound: lagClock.view() },
    fastLane: s.fastLane(),
    drain: shutdown.report ?? null,
    config: redactedConfig(config),
  }
}

/** The values metrics read at scrape time. */
export function bindMetricSources(metrics: Metrics, s: Pick<StatusSources, 'lifecycle' | 'ports'>): void {
  const { lifecycle } = s
  const ports = s.ports.map(({ settings, ingress, forwarder, probe }) => {
    let clientsAtUnready = 0
    let requestsAtUnready = 0
    lifecycle.onChange((state) => {
      if (state === 'terminating') {
        clientsAtUnready = ingress.clientConnections
        requestsAtUnready = forwarder.requests
      }
    })
    return {
      name: settings.name,
      activeConnections: () => ingress.active,
      upstreamReachable: () => probe.reachable,
      acceptedSinceUnready: () => (lifecycle.terminating ? ingress.clientConnections - clientsAtUnready : 0),
      requestsSinceUnready: () => (lifecycle.terminating ? forwarder.requests - requestsAtUnready : 0),
    }
  })
  metrics.bind({ state: () => lifecycle.state, ports: () => ports })
}
