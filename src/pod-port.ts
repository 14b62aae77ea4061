// One pod port, wired: its traffic observations, the probe of its app, its forwarder (tcp or
// http) and its ingress, from the port's settings (config/ports.ts) and the options all ports
// share. The sidecar (sidecar.ts) opens one per port and runs one lifecycle over them all.
import type { Config, PortSettings } from './config.js'
import type { Logger } from './log.js'
import type { Metrics } from './admin/metrics.js'
import { createSourcePolicy } from './proxy-protocol/policy.js'
import { UpstreamProbe } from './forward/upstream-probe.js'
import { TcpForwarder } from './forward/tcp/forwarder.js'
import { HttpForwarder } from './forward/http/forwarder.js'
import type { Forwarder } from './forward/forwarder.js'
import { Ingress } from './ingress/server.js'
import { HealthResponder } from './ingress/health-responder.js'
import { TrafficObservations } from './lifecycle/observations.js'

export interface PodPort {
  readonly settings: PortSettings
  readonly observations: TrafficObservations
  readonly probe: UpstreamProbe
  readonly forwarder: Forwarder
  readonly ingress: Ingress
}

export interface PodPortDeps {
  config: Config
  /** How many pod ports share the descriptor budget. */
  ports: number
  metrics: Metrics
  logger: Logger
  /** The load balancer's health checks on this port pass (called per check). */
  passing(probe: UpstreamProbe): boolean
}

export function openPodPort(settings: PortSettings, { config, ports, metrics: all, logger: root, passing }: PodPortDeps): PodPort {
  const metrics = all.forPort(settings.name)
  const logger = ports > 1 ? root.child({ port: settings.name }) : root
  const observations = new TrafficObservations({ historyMs: config.arrivalHistoryMs })
  const probe = new UpstreamProbe(settings.upstream, config.upstreamProbeIntervalMs, Math.min(config.upstreamConnectTimeoutMs, 2000))
  const forwarder: Forwarder =
    settings.mode === 'tcp'
      ? new TcpForwarder({
          upstream: settings.upstream,
          connectTimeoutMs: config.upstreamConnectTimeoutMs,
          upstreamProxyProtocol: settings.upstreamProxyProtocol,
          probe,
          metrics,
          logger,
        })
      : new HttpForwarder({
          upstream: settings.upstream,
          connectTimeoutMs: config.upstreamConnectTimeoutMs,
          upstreamTimeoutMs: config.upstreamTimeoutMs,
          keepAliveTimeoutMs: config.keepAliveTimeoutMs,
          xff: settings.xff,
          forwardedProto: settings.forwardedProto,
          probe,
          metrics,
          logger,
          activity: observations,
          upstreamProtocol: settings.upstreamProtocol,
          http2MaxConnectionAgeMs: config.http2MaxConnectionAgeMs,
          http2MaxConnectionAgeGraceMs: config.http2MaxConnectionAgeGraceMs,
        })
  const ingress = new Ingress({
    listen: settings.listen,
    maxConnections: config.maxConnections,
    fdBudgetShares: ports,
    sourcePolicy: createSourcePolicy({ mode: settings.proxyProtocol, trusted: settings.trustedProxies }),
    classify: {
      reader: { maxHeaderBytes: config.proxyHeaderMaxBytes, crcMismatch: config.crcMismatch, stackedHeaders: config.stackedHeaders },
      headerTimeoutMs: config.headerTimeoutMs,
      eager: settings.mode === 'tcp' && settings.proxyProtocol === 'off',
      clientSpeaksFirst: settings.mode === 'http',
    },
    forwarder,
    health: new HealthResponder(() => passing(probe)),
    observations,
    metrics,
    logger,
  })
  return { settings, observations, probe, forwarder, ingress }
}
