// Wires the parts together: ingress → classifier → forwarder on the data path; lifecycle
// watching the observations and commanding the drain; the admin port reading both.
import { performance } from 'node:perf_hooks'
import type { AddressInfo } from 'node:net'
import { redactedConfig, type Config } from './config.js'
import type { Logger } from './log.js'
import { createMetrics, type Metrics } from './admin/metrics.js'
import { AdminServer } from './admin/server.js'
import { createAdminAuth } from './admin/auth.js'
import { createSourcePolicy } from './proxy-protocol/policy.js'
import { UpstreamProbe } from './forward/upstream-probe.js'
import { TcpForwarder } from './forward/tcp/forwarder.js'
import { HttpForwarder } from './forward/http/forwarder.js'
import type { Forwarder } from './forward/forwarder.js'
import { Ingress } from './ingress/server.js'
import { HealthResponder } from './ingress/health-responder.js'
import { Lifecycle } from './lifecycle/state.js'
import { Shutdown, type Trigger, type ShutdownReport } from './lifecycle/shutdown.js'
import { TrafficObservations } from './lifecycle/observations.js'
import { LagClock } from './lifecycle/lag-clock.js'
import { createObservers, Elbv2Observer } from './lifecycle/observers/index.js'
import { ContainerRestartWatch } from './lifecycle/container-restart.js'

export interface Sidecar {
  readonly lifecycle: Lifecycle
  readonly shutdown: Shutdown
  readonly metrics: Metrics
  readonly listenAddress: AddressInfo
  readonly adminAddress: AddressInfo
  /** Start termination by signal (or join the sequence running); a signal always ends the pod. */
  terminate(trigger: Trigger): Promise<ShutdownReport>
  /** End the wait for the load balancer now (an operator's second Ctrl-C); false if none runs. */
  endWait(reason: string): boolean
  close(): Promise<void>
}

export async function startSidecar(config: Config, logger: Logger, version: string): Promise<Sidecar> {
  const bootAt = performance.now()
  const metrics = createMetrics()
  const lifecycle = new Lifecycle(logger, metrics)
  const observations = new TrafficObservations({ historyMs: config.arrivalHistoryMs })
  const probe = new UpstreamProbe(config.upstream, config.upstreamProbeIntervalMs, Math.min(config.upstreamConnectTimeoutMs, 2000))

  const forwarder: Forwarder = config.mode === 'tcp'
    ? new TcpForwarder({ upstream: config.upstream, connectTimeoutMs: config.upstreamConnectTimeoutMs, upstreamProxyProtocol: config.upstreamProxyProtocol, probe, metrics, logger })
    : new HttpForwarder({ upstream: config.upstream, connectTimeoutMs: config.upstreamConnectTimeoutMs, upstreamTimeoutMs: config.upstreamTimeoutMs, keepAliveTimeoutMs: config.keepAliveTimeoutMs, xff: config.xff, forwardedProto: config.forwardedProto, probe, metrics, logger, activity: observations })

  // The load balancer's health checks are answered 200 while drainpipe serves traffic and
  // the app is reachable; during terminating it still serves, so it still says 200.
  const serving = () => (lifecycle.state === 'ready' || lifecycle.state === 'terminating') && probe.reachable
  const health = new HealthResponder(serving)

  const ingress = new Ingress({
    listen: config.listen,
    maxConnections: config.maxConnections,
    sourcePolicy: createSourcePolicy({ mode: config.proxyProtocol, trusted: config.trustedProxies }),
    classify: {
      reader: { maxHeaderBytes: config.proxyHeaderMaxBytes, crcMismatch: config.crcMismatch, stackedHeaders: config.stackedHeaders },
      headerTimeoutMs: config.headerTimeoutMs,
      eager: config.mode === 'tcp' && config.proxyProtocol === 'off',
      clientSpeaksFirst: config.mode === 'http',
    },
    forwarder,
    health,
    observations,
    metrics,
    logger,
  })

  // The lag clock, observers and termination sequence run once; after a container restart (a
  // /prestop drain no SIGTERM followed, then the app came back) a fresh set serves the next one.
  const newTermination = () => {
    const lagClock = new LagClock(config.lbLagMaxMs, config.deregistration.includes('elbv2'))
    const observers = newObservers(lagClock)
    const shutdown = new Shutdown({
      lifecycle, observers, observations, lagClock, target: ingress, logger, metrics,
      connectionCloseOnTerminate: config.connectionCloseOnTerminate,
      minWaitMs: config.minWaitMs, maxWaitMs: config.maxWaitMs, drainTimeoutMs: config.drainTimeoutMs,
    })
    return { lagClock, observers, shutdown }
  }
  const newObservers = (lagClock: LagClock) => createObservers(config, {
    observations,
    lagClock,
    logger: logger.child({ component: 'observer' }),
    elbv2Hook: { onCall: (outcome) => metrics.elbv2Calls[outcome].inc() },
  })

  let { lagClock, observers, shutdown } = newTermination()
  let signalled = false
  let closed = false
  const restartWatch = new ContainerRestartWatch(probe, logger, (appDownMs) => void reopen(appDownMs))
  const reopen = async (appDownMs: number) => {
    if (signalled || closed || lifecycle.state !== 'drained') return
    ;({ lagClock, observers, shutdown } = newTermination())
    await ingress.resumeAccepting()
    if (signalled || closed) return // the signal's exit closes the port again
    lifecycle.to('ready', 'the app came back after a /prestop drain without SIGTERM: a container restart, serving again', { appDownMs })
  }

  // "After readiness failed" counts are derived: the totals minus a snapshot taken when
  // termination started. Nothing on the data path needs to know about lifecycle.
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

  const ready = () => {
    if (lifecycle.state !== 'ready') return { ok: false, reason: `not ready: ${lifecycle.state}${lifecycle.state === 'starting' ? ' (app not reachable yet)' : ''}` }
    if (!probe.reachable) return { ok: false, reason: `not ready: app at ${config.upstream.host}:${config.upstream.port} unreachable` }
    return { ok: true, reason: 'ready' }
  }

  const admin = new AdminServer(config.admin, metrics, createAdminAuth(config.adminToken), {
    ready,
    status: () => ({
      version,
      state: lifecycle.state,
      since: lifecycle.sinceWall.toISOString(),
      ready: ready(),
      trigger: shutdown.trigger ?? null,
      // After a /prestop drain: 'armed' (app up), 'app-down' (waiting for it to come back).
      containerRestartWatch: restartWatch.state,
      terminationStartedSecondsAgo: shutdown.started ? Math.round(performance.now() - shutdown.startedAt) / 1000 : null,
      upstream: { address: `${config.upstream.host}:${config.upstream.port}`, reachable: probe.reachable },
      connections: { active: ingress.active, clientAccepted: ingress.clientConnections, requests: forwarder.requests },
      observers: Object.fromEntries(observers.map((o) => [o.name, { satisfied: o.satisfied, ...o.view() }])),
      decision: { waitingFor: shutdown.started && !shutdown.report ? shutdown.decision.pending() : null, lagBound: lagClock.view() },
      drain: shutdown.report ?? null,
      config: redactedConfig(config),
    }),
    prestop: async () => {
      const report = await shutdown.begin('prestop')
      if (!signalled && !closed && lifecycle.state === 'drained') restartWatch.arm()
      return { ...report }
    },
  })

  admin.onError = (err) => logger.error({ err: { code: err.code, message: err.message } }, 'admin port error')
  const listenAddress = await ingress.listen()
  const adminAddress = await admin.listen()
  logger.info({ listen: listenAddress, admin: adminAddress, maxConnections: ingress.connectionCap || null, mode: config.mode, proxyProtocol: config.proxyProtocol, upstream: config.upstream, deregistration: config.deregistration }, 'listening')

  const markReady = () => {
    if (lifecycle.state === 'starting' && probe.reachable) lifecycle.to('ready', 'app reachable', { startupMs: Math.round(performance.now() - bootAt) })
  }
  probe.onChange((reachable) => {
    if (reachable) markReady()
    logger[reachable ? 'info' : 'warn']({ upstream: config.upstream }, reachable ? 'app reachable' : 'app unreachable: readiness fails until it is back')
  })
  await probe.start()
  markReady()
  for (const o of observers) if (o instanceof Elbv2Observer) o.checkAtStartup()
  if (lifecycle.state === 'starting') logger.warn({ upstream: config.upstream }, 'app not reachable yet: readiness fails until it is')

  return {
    lifecycle, metrics, listenAddress, adminAddress,
    get shutdown() { return shutdown },
    terminate: (trigger) => {
      signalled = true
      restartWatch.disarm()
      return shutdown.begin(trigger)
    },
    endWait: (reason) => shutdown.endWait(reason),
    async close() {
      closed = true
      restartWatch.disarm()
      probe.stop()
      for (const o of observers) o.stop()
      await admin.close()
      await ingress.close()
    },
  }
}
