// Wires the parts together: ingress → classifier → forwarder on the data path, once per pod port
// (pod-port.ts); one lifecycle watching every port's observations and commanding the drain of
// them all; the admin port reading both.
import { performance } from 'node:perf_hooks'
import type { AddressInfo } from 'node:net'
import type { Config } from './config.js'
import type { Logger } from './log.js'
import { podPorts } from './config.js'
import { createMetrics, type Metrics } from './admin/metrics.js'
import { AdminServer } from './admin/server.js'
import { createAdminAuth } from './admin/auth.js'
import { ProbeSet } from './forward/probe-set.js'
import { IngressSet } from './ingress/ingress-set.js'
import { openPodPort } from './pod-port.js'
import { bindMetricSources, readiness, serving, statusView, type StatusSources } from './admin/status.js'
import { Lifecycle } from './lifecycle/state.js'
import type { Shutdown, Trigger, ShutdownReport } from './lifecycle/shutdown.js'
import { checkAtStartup, newTermination, stopObservers } from './lifecycle/termination.js'
import { wireFastLane } from './lifecycle/fast-lane/wiring.js'
import { ContainerRestartWatch } from './lifecycle/container-restart.js'

export interface Sidecar {
  readonly lifecycle: Lifecycle
  readonly shutdown: Shutdown
  readonly metrics: Metrics
  /** The first pod port's address (--listen). */
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
  const settings = podPorts(config)
  const metrics = createMetrics(settings.map((p) => p.name))
  const lifecycle = new Lifecycle(logger, metrics)
  // Health checks pass while serving, unless the fast lane (--health-check-on-terminate fail)
  // engaged: then they fail from termination start while clients are still served. Each port's
  // checks follow its own app; readiness and the dedicated health-check port follow them all.
  // (The dedicated port's check reads `probes`, made below from the ports, only when asked.)
  const fastLane = wireFastLane(config, lifecycle, logger, () => serving({ lifecycle, probe: probes }))
  const ports = settings.map((p) =>
    openPodPort(p, {
      config,
      ports: settings.length,
      metrics,
      logger,
      passing: (own) => serving({ lifecycle, probe: own }) && !fastLane.lane.failing,
    }),
  )
  const probes = new ProbeSet(ports.map((p) => p.probe))
  const ingress = new IngressSet(ports.map((p) => p.ingress))
  const observations = ports.map((p) => ({ name: p.settings.name, observations: p.observations }))

  const newOne = () =>
    newTermination({
      config,
      lifecycle,
      observations: observations.length === 1 ? observations[0]!.observations : observations,
      target: ingress,
      logger,
      metrics,
      lagChoice: () => fastLane.lane.lagChoice(),
      moreTargetGroups: settings.slice(1).flatMap((p) => p.targetGroupArns.map((arn) => ({ arn, port: p.targetPort }))),
    })
  let termination = newOne()
  let signalled = false
  let closed = false
  const restartWatch = new ContainerRestartWatch(probes, logger, (appDownMs) => void reopen(appDownMs))
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
    probe: probes,
    ports,
    ingress,
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
  const addresses = await ingress.listen()
  const listenAddress = addresses[0]!
  const adminAddress = await admin.listen()
  const healthCheckAddress = await fastLane.listen()
  logger.info(
    {
      listen: listenAddress,
      ...(ports.length > 1
        ? {
            ports: ports.map((p, i) => ({
              name: p.settings.name,
              listen: addresses[i],
              upstream: p.settings.upstream,
              mode: p.settings.mode,
              proxyProtocol: p.settings.proxyProtocol,
            })),
          }
        : {}),
      admin: adminAddress,
      ...(healthCheckAddress ? { healthCheckListen: healthCheckAddress } : {}),
      healthCheckOnTerminate: fastLane.lane.mode,
      maxConnections: ports[0]!.ingress.connectionCap || null,
      mode: config.mode,
      proxyProtocol: config.proxyProtocol,
      upstream: config.upstream,
      deregistration: config.deregistration,
    },
    'listening',
  )

  const markReady = () => {
    if (lifecycle.state === 'starting' && probes.reachable)
      lifecycle.to('ready', ports.length > 1 ? "every port's app reachable" : 'app reachable', {
        startupMs: Math.round(performance.now() - bootAt),
      })
  }
  probes.onChange((reachable) => {
    if (reachable) markReady()
  })
  for (const p of ports) {
    const where = { ...(ports.length > 1 ? { port: p.settings.name } : {}), upstream: p.settings.upstream }
    p.probe.onChange((reachable) =>
      logger[reachable ? 'info' : 'warn'](where, reachable ? 'app reachable' : 'app unreachable: readiness fails until it is back'),
    )
  }
  await probes.start()
  markReady()
  checkAtStartup(termination)
  fastLane.checkAtStartup(Math.min(config.elbv2PollIntervalMs, 5000))
  if (lifecycle.state === 'starting')
    logger.warn(
      ports.length > 1
        ? { upstream: ports.filter((p) => !p.probe.reachable).map((p) => ({ name: p.settings.name, upstream: p.settings.upstream })) }
        : { upstream: config.upstream },
      'app not reachable yet: readiness fails until it is',
    )

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
      probes.stop()
      fastLane.stop()
      stopObservers(termination)
      await admin.close()
      await ingress.close()
    },
  }
}
