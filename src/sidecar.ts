// Wires the parts together: ingress → classifier → forwarder on the data path; lifecycle
// watching the observations and commanding the drain; the admin port reading both.
import { performance } from 'node:perf_hooks'
import type { AddressInfo } from 'node:net'
import type { Config } from './config.js'
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
import { bindMetricSources, readiness, serving, statusView, type StatusSources } from './admin/status.js'
import { Lifecycle } from './lifecycle/state.js'
import type { Shutdown, Trigger, ShutdownReport } from './lifecycle/shutdown.js'
import { TrafficObservations } from './lifecycle/observations.js'
import { checkAtStartup, newTermination, stopObservers } from './lifecycle/termination.js'
import { wireFastLane } from './lifecycle/fast-lane/wiring.js'
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

  const forwarder: Forwarder =
    config.mode === 'tcp'
      ? new TcpForwarder({
          upstream: config.upstream,
          connectTimeoutMs: config.upstreamConnectTimeoutMs,
          upstreamProxyProtocol: config.upstreamProxyProtocol,
          probe,
          metrics,
          logger,
        })
      : new HttpForwarder({
          upstream: config.upstream,
          connectTimeoutMs: config.upstreamConnectTimeoutMs,
          upstreamTimeoutMs: config.upstreamTimeoutMs,
          keepAliveTimeoutMs: config.keepAliveTimeoutMs,
          xff: config.xff,
          forwardedProto: config.forwardedProto,
          probe,
          metrics,
          logger,
          activity: observations,
          upstreamProtocol: config.upstreamProtocol,
          http2MaxConnectionAgeMs: config.http2MaxConnectionAgeMs,
          http2MaxConnectionAgeGraceMs: config.http2MaxConnectionAgeGraceMs,
        })

  // Health checks pass while serving, unless the fast lane (--health-check-on-terminate fail)
  // engaged: then they fail from termination start while clients are still served.
  const fastLane = wireFastLane(config, lifecycle, logger, () => serving({ lifecycle, probe }))
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
    health: new HealthResponder(() => fastLane.passing()),
    observations,
    metrics,
    logger,
  })

  const newOne = () =>
    newTermination({ config, lifecycle, observations, target: ingress, logger, metrics, lagChoice: () => fastLane.lane.lagChoice() })
  let termination = newOne()
  let signalled = false
  let closed = false
  const restartWatch = new ContainerRestartWatch(probe, logger, (appDownMs) => void reopen(appDownMs))
  const reopen = async (appDownMs: number) => {
    if (signalled || closed || lifecycle.state !== 'drained') return
    termination = newOne()
    await ingress.resumeAccepting()
    if (signalled || closed) return // the signal's exit closes the port again
    lifecycle.to('ready', 'the app came back after a /prestop drain without SIGTERM: a container restart, serving again', { appDownMs })
  }

  const sources: StatusSources = {
    version,
    config,
    lifecycle,
    probe,
    ingress,
    forwarder,
    restartWatch,
    termination: () => termination,
    fastLane: () => fastLane.view(),
  }
  bindMetricSources(metrics, sources)
  const admin = new AdminServer(config.admin, metrics, createAdminAuth(config.adminToken), {
    ready: () => readiness(sources),
    status: () => statusView(sources),
    prestop: async () => {
      const report = await termination.shutdown.begin('prestop')
      if (!signalled && !closed && lifecycle.state === 'drained') restartWatch.arm()
      return { ...report }
    },
  })

  admin.onError = (err) => logger.error({ err: { code: err.code, message: err.message } }, 'admin port error')
  const listenAddress = await ingress.listen()
  const adminAddress = await admin.listen()
  const healthCheckAddress = await fastLane.listen()
  logger.info(
    {
      listen: listenAddress,
      admin: adminAddress,
      ...(healthCheckAddress ? { healthCheckListen: healthCheckAddress } : {}),
      healthCheckOnTerminate: fastLane.lane.mode,
      maxConnections: ingress.connectionCap || null,
      mode: config.mode,
      proxyProtocol: config.proxyProtocol,
      upstream: config.upstream,
      deregistration: config.deregistration,
    },
    'listening',
  )

  const markReady = () => {
    if (lifecycle.state === 'starting' && probe.reachable)
      lifecycle.to('ready', 'app reachable', { startupMs: Math.round(performance.now() - bootAt) })
  }
  probe.onChange((reachable) => {
    if (reachable) markReady()
    logger[reachable ? 'info' : 'warn'](
      { upstream: config.upstream },
      reachable ? 'app reachable' : 'app unreachable: readiness fails until it is back',
    )
  })
  await probe.start()
  markReady()
  checkAtStartup(termination)
  fastLane.checkAtStartup(Math.min(config.elbv2PollIntervalMs, 5000))
  if (lifecycle.state === 'starting') logger.warn({ upstream: config.upstream }, 'app not reachable yet: readiness fails until it is')

  return {
    lifecycle,
    metrics,
    listenAddress,
    adminAddress,
    get shutdown() {
      return termination.shutdown
    },
    terminate: (trigger) => {
      signalled = true
      restartWatch.disarm()
      return termination.shutdown.begin(trigger)
    },
    endWait: (reason) => termination.shutdown.endWait(reason),
    async close() {
      closed = true
      restartWatch.disarm()
      probe.stop()
      fastLane.stop()
      stopObservers(termination)
      await admin.close()
      await ingress.close()
    },
  }
}
